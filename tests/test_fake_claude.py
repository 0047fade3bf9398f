"""The fake CLI replays a recording at once, whatever pace it was recorded at, and is silent only when asked."""
import json
import select
import subprocess
import sys
import time

from harness.fake_cli import FAKE
from tests.support import FIXTURES, recording


def start(fixtures, prompt, name="slow"):
    """Run the fake CLI over fixtures with the argv recorded for a scenario and prompt on stdin."""
    proc = subprocess.Popen([sys.executable, FAKE, "--fixtures", str(fixtures), "--", *recording(name)["argv"]],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(prompt.encode())
    proc.stdin.close()
    proc.stdin = None  # all said: communicate() has nothing to send
    return proc


def next_event(proc):
    return json.loads(proc.stdout.readline())


def until_message_start(proc):
    while (event := next_event(proc)).get("event", {}).get("type") != "message_start":
        pass


def test_recorded_times_do_not_set_the_pace(tmp_path):
    # The slow scenario recorded by a machine a hundred times slower would take minutes at its pace.
    slow = recording("slow")
    for entry in slow["stdout"]:
        entry["t"] *= 100
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    proc = start(tmp_path, "Count [stub:slow]")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.decode().splitlines() == [e["line"] for e in slow["stdout"]]


def test_a_hold_for_seconds_lasts_that_long():
    # Measured around the whole run: a busy machine can only make it longer. (Where the silence
    # falls is shown by the gate test below, which does not depend on the time.)
    started = time.monotonic()
    proc = start(FIXTURES, "Count [stub:slow] [hold:1.5]")
    out, _ = proc.communicate(timeout=60)
    assert time.monotonic() - started >= 1.5
    assert proc.returncode == 0 and out.decode().splitlines() == [e["line"] for e in recording("slow")["stdout"]]


def test_a_hold_on_a_file_lasts_until_the_file_exists(tmp_path):
    gate = tmp_path / "gate"
    proc = start(FIXTURES, f"Count [stub:slow] [hold:{gate}]")
    until_message_start(proc)
    assert select.select([proc.stdout], [], [], 1.0)[0] == []  # nothing more while the gate is shut
    gate.touch()
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert json.loads(rest.decode().splitlines()[-1])["type"] == "result"


def test_a_hold_forever_lasts_until_killed():
    proc = start(FIXTURES, "Count [stub:slow] [hold:forever]")
    until_message_start(proc)
    try:
        assert select.select([proc.stdout], [], [], 1.0)[0] == []
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
