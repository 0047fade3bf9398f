"""The record of CLI versions checked with the upgrade command, and the README table made from it.

Usage: python -m harness.compat [--write] [--pin VERSION | --pin newest]

fixtures/compatibility.json holds one entry per version that `python -m harness.upgrade` checked
(it writes them): the version, its npm publish date, when and against which pinned version it
was checked, the diff's verdict, each suite's result, and the report. It also names the pinned
version. proxy/compatibility.json links to it, so the installed package carries it: the proxy's
start-up warning reads the range of versions that passed from there (proxy/versions.py).

Without options this prints the Markdown table. --write puts it in README.md between the
compatibility markers and writes the pinned version into the record; --pin first moves
fixtures/PINNED, to a version or to the newest version whose check passed, then writes.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

from harness.install_cli import PACKAGE, REPO
from proxy.versions import parse

FIXTURES = os.path.join(REPO, "fixtures")
README = os.path.join(REPO, "README.md")
BEGIN, END = "<!-- compatibility table: python -m harness.compat --write -->", "<!-- end of compatibility table -->"


def path(fixtures=FIXTURES):
    return os.path.join(fixtures, "compatibility.json")


def pinned(fixtures=FIXTURES):
    """Return the version named by fixtures/PINNED."""
    with open(os.path.join(fixtures, "PINNED"), encoding="utf-8") as f:
        return f.read().strip()


def load(fixtures=FIXTURES):
    """Return the record: {"package", "pinned", "versions": [entry, ...]} (empty if there is none yet)."""
    try:
        with open(path(fixtures), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"package": PACKAGE, "pinned": None, "versions": []}


def save(record, fixtures=FIXTURES):
    """Write the record, its versions newest first and the pinned version from fixtures/PINNED."""
    record = {**record, "pinned": pinned(fixtures),
              "versions": sorted(record["versions"], key=lambda e: parse(e["version"]), reverse=True)}
    with open(path(fixtures), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return record


def add(entry, fixtures=FIXTURES):
    """Put one version's check into the record, replacing an earlier check of that version."""
    record = load(fixtures)
    record["versions"] = [e for e in record["versions"] if e["version"] != entry["version"]] + [entry]
    return save(record, fixtures)


def passing(record):
    """Return the versions whose check passed, and the pinned one, oldest first."""
    found = {e["version"] for e in record["versions"] if e["passed"]} | ({record["pinned"]} - {None})
    return sorted(found, key=parse)


def table(record):
    """Return the Markdown table of the record, newest version first, the pinned one marked."""
    lines = ["| CLI version | published on npm | checked | diff against the pinned version | contract suite | "
             "integration suite |",
             "|---|---|---|---|---|---|"]
    for e in record["versions"]:
        version = f"**{e['version']}** (pinned)" if e["version"] == record["pinned"] else e["version"]
        verdict = "none: the pin itself" if e["against"] == e["version"] else e["diff"]
        report = f"[{verdict}]({e['report']})" if e.get("report") else verdict
        lines.append(f"| {version} | {e['published'] or '?'} | {e['checked_at'][:10]} against {e['against']} | "
                     f"{report} | {_suite(e['contract'])} | {_suite(e['integration'])} |")
    versions = passing(record)
    if versions:
        lines += ["", f"Known to work: {versions[0]} to {versions[-1]} (the versions checked that passed: "
                      f"{', '.join(versions)})."]
    return lines


def _suite(result):
    if result is None:
        return "not run"
    counts = re.sub(r"\s+in [\d.]+s.*$", "", result["summary"])
    return counts if result["passed"] else f"**failed** ({counts})"


def write_readme(record, readme=README):
    """Replace the table between the markers in the README; return whether the markers were there."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(readme, "w", encoding="utf-8") as f:
        f.write(head + BEGIN + "\n" + "\n".join(table(record)) + "\n" + END + tail)
    return True


def pin(version, fixtures=FIXTURES):
    """Move fixtures/PINNED to version, or to the newest version that passed ("newest"); return it."""
    record = load(fixtures)
    if version == "newest":
        passed = [e["version"] for e in record["versions"] if e["passed"]]
        if not passed:
            raise ValueError("no version in the record passed its check")
        version = max(passed, key=parse)
    if not os.path.isdir(os.path.join(fixtures, f"cli-{version}")):
        raise ValueError(f"no recordings of {version} in {fixtures}: check it first (tox -e cli -- {version})")
    with open(os.path.join(fixtures, "PINNED"), "w", encoding="utf-8") as f:
        f.write(version + "\n")
    return version


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md and the record's pinned version")
    parser.add_argument("--pin", metavar="VERSION", help="move fixtures/PINNED (a version, or newest), then --write")
    args = parser.parse_args(argv)
    if args.pin:
        try:
            print(f"fixtures/PINNED: {pin(args.pin)}")
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 1
    record = load()
    if args.write or args.pin:
        record = save(record)
        if not write_readme(record):
            print(f"README.md has no {BEGIN} ... {END} block", file=sys.stderr)
            return 1
    print("\n".join(table(record)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
