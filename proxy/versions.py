"""Warn at startup when the CLI's version is not one this proxy is known to work with.

What is known comes with the package: compatibility.json (in a checkout a link to
fixtures/compatibility.json, which the upgrade check `python -m harness.upgrade` writes) lists
each CLI version checked and whether it passed, and names the pinned version.
"""
from __future__ import annotations

import importlib.resources
import json
import logging
import re

log = logging.getLogger("proxy")
RECORD = importlib.resources.files("proxy") / "compatibility.json"


def parse(version):
    """Return a version such as 2.1.328 as a tuple of ints, or None if it is not dotted numbers."""
    if not version or not re.fullmatch(r"\d+(\.\d+)*", version):
        return None
    return tuple(int(part) for part in version.split("."))


def known(record=RECORD):
    """Return (the versions that passed their check, and the pinned one, oldest first; {failed version: report}).

    Both are empty when there is no record.
    """
    try:
        with record.open(encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return [], {}
    passed = {e["version"] for e in data.get("versions", ()) if e.get("passed")} | ({data.get("pinned")} - {None})
    failed = {e["version"]: e.get("report") for e in data.get("versions", ()) if not e.get("passed")}
    return sorted((v for v in passed if parse(v)), key=parse), failed


def check(version, record=RECORD):
    """Log a warning if version failed its check or lies outside the passing range; else say nothing."""
    passed, failed = known(record)
    if not version or not passed:
        return
    low, high = passed[0], passed[-1]
    command = f"`tox -e cli -- {version}`"
    if version in failed:
        log.warning("The Claude CLI is version %s, which failed the proxy's upgrade check (%s); the proxy is known "
                    "to work with %s..%s.", version, failed[version] or command, low, high)
    elif parse(version) is None or not parse(low) <= parse(version) <= parse(high):
        log.warning("The Claude CLI is version %s, outside the versions the proxy is known to work with (%s..%s, "
                    "checked: %s); it may print what the proxy cannot read. Check it with %s.",
                    version, low, high, ", ".join(passed), command)
