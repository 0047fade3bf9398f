"""Warn at startup when the CLI's version is outside the versions the recorded fixtures cover."""
from __future__ import annotations

import logging
import os
import re

log = logging.getLogger("proxy")
# Next to the package in a checkout; absent from an installed wheel, where the check is skipped.
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
RECORDED = re.compile(r"^cli-(\d+(?:\.\d+)*)$")


def parse(version):
    """Return a version such as 2.1.328 as a tuple of ints, or None if it is not dotted numbers."""
    if not version or not re.fullmatch(r"\d+(\.\d+)*", version):
        return None
    return tuple(int(part) for part in version.split("."))


def covered(fixtures=FIXTURES):
    """Return the recorded versions (from the fixtures/cli-<version>/ directory names), oldest first."""
    try:
        names = os.listdir(fixtures)
    except OSError:
        return []
    found = [m.group(1) for m in map(RECORDED.match, names) if m and os.path.isdir(os.path.join(fixtures, m.group(0)))]
    return sorted(found, key=parse)


def check(version, fixtures=FIXTURES):
    """Log a warning if version is outside the recorded range; say nothing without fixtures or a version."""
    recorded = covered(fixtures)
    if not version or not recorded:
        return
    low, high = recorded[0], recorded[-1]
    if parse(version) is not None and parse(low) <= parse(version) <= parse(high):
        return
    log.warning("The Claude CLI is version %s, outside the versions the proxy's recordings cover (%s..%s: %s); "
                "it may print what the proxy cannot read. Check it with `tox -e cli -- %s`.",
                version, low, high, ", ".join(recorded), version)
