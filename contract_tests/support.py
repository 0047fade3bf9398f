"""Helpers shared by the contract tests."""
import pathlib


def fake_cli_processes(server):
    """Pids of live fake CLI processes started by this server (zombies do not count)."""
    marker = str(server.log)
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "fake_claude.py" in cmdline and marker in cmdline and state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids
