"""Install a pinned version of the Claude Code CLI with npm into a cache directory, once.

Usage: python -m harness.install_cli VERSION   (prints the path of that version's `claude`; VERSION
may be a dist-tag such as latest)

It also asks npm what a dist-tag names and when a version was published (`npm view`).
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CACHE = os.path.join(REPO, ".cache", "claude-cli")
PACKAGE = "@anthropic-ai/claude-code"


class InstallError(RuntimeError):
    """npm failed, or the installed CLI does not report the version asked for."""


@functools.cache
def registry():
    """Return what npm says of the package: {"dist-tags": {tag: version}, "time": {version: ISO date}}."""
    command = ["npm", "view", PACKAGE, "dist-tags", "time", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    if done.returncode != 0:
        raise InstallError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout)


def resolve(name):
    """Return the version a dist-tag (latest, next, ...) names on npm, or name itself if it is a published version."""
    facts = registry()
    version = facts.get("dist-tags", {}).get(name, name)
    if version not in facts.get("time", {}):
        raise InstallError(f"{PACKAGE}@{name} is not on npm (its dist-tags: {facts.get('dist-tags')})")
    return version


def published(version):
    """Return the day npm says version was published (YYYY-MM-DD), or None if npm does not say."""
    when = registry().get("time", {}).get(version)
    return when[:10] if when else None


def installed_version(claude):
    """Return the first word `claude --version` prints, or None if it cannot be run."""
    try:
        done = subprocess.run([claude, "--version"], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[0] if done.returncode == 0 and words else None


def ensure_cli(version, cache_dir=None):
    """Install `@anthropic-ai/claude-code@version` unless already there; return the path of its `claude`."""
    prefix = os.path.abspath(os.path.join(cache_dir or DEFAULT_CACHE, version))
    claude = os.path.join(prefix, "node_modules", ".bin", "claude")
    if installed_version(claude) == version:
        return claude
    os.makedirs(prefix, exist_ok=True)
    # --foreground-scripts shows the postinstall's output; that postinstall is what puts the native
    # binary in place of the package's placeholder, so --ignore-scripts would leave a dead stub.
    command = ["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error",
               "--no-save", "--foreground-scripts", f"{PACKAGE}@{version}"]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise InstallError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    found = installed_version(claude)
    if found is None:
        # npm configured with ignore-scripts skips the postinstall silently; run it ourselves.
        package = os.path.join(prefix, "node_modules", *PACKAGE.split("/"))
        subprocess.run(["node", "install.cjs"], cwd=package, capture_output=True, stdin=subprocess.DEVNULL)
        found = installed_version(claude)
    if found != version:
        raise InstallError(
            f"{claude} --version gave {found!r}, not {version!r}: the package's postinstall (which "
            f"places the native binary) may not have run. npm said:\n{done.stdout}{done.stderr}")
    return claude


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        print(ensure_cli(resolve(args[0])))
    except InstallError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
