"""However a request ends (deadline, client gone) and however its worker ends (SIGKILL, SIGTERM), its CLI is gone.

None of these tests depends on the pace a recording was made at: the fake CLI replays at once,
and a test that needs the CLI silent says how long with a `[hold:...]` marker. Each test runs
twice, over the recordings as they are and over a copy whose times are five times longer (a
slow or busy recording machine), and must pass both ways, also while every core is busy.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from contract_tests.support import FIXTURES, ROOT, Server, fake_cli_processes, free_port, watchdog_of
from harness.fake_cli import make_fake_cli
from proxy.spec import Spec

# A bound on how soon an ended request's CLI is gone. The proxy looks at the client every 0.5 s
# and kills at once; without that, a held CLI would run until killed, so any bound tells the two
# apart, and a generous one does not depend on how busy the machine is.
PROMPTLY = 5.0
SLOWER = 5  # the slow machine's recordings take this many times as long


def slowed_copy(source, target, factor):
    """Copy a version's recordings into target with every recorded time multiplied by factor."""
    for path in source.glob("*.json"):
        recording = json.loads(path.read_text())
        for entry in recording["stdout"]:
            entry["t"] = round(entry["t"] * factor, 3)
        if recording.get("killed_after") is not None:
            recording["killed_after"] = round(recording["killed_after"] * factor, 3)
        (target / path.name).write_text(json.dumps(recording))
    return target


@pytest.fixture(scope="module", params=["as recorded", f"recorded {SLOWER}x slower"])
def recordings(request, tmp_path_factory):
    if request.param == "as recorded":
        return FIXTURES
    return slowed_copy(FIXTURES, tmp_path_factory.mktemp("slow-machine"), SLOWER)


@pytest.fixture(scope="module")
def server(recordings, tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("server"), fixtures=recordings, MAX_CONCURRENCY="4")  # four streams at once
    yield s
    s.stop()


@pytest.fixture(scope="module")
def short_server(recordings, tmp_path_factory):
    """A server whose CLI deadline is 3 s."""
    s = Server(tmp_path_factory.mktemp("short"), fixtures=recordings, CLAUDE_TIMEOUT="3")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keepalive_server(recordings, tmp_path_factory):
    """A server that sends a keep-alive after each second of silence on a stream."""
    s = Server(tmp_path_factory.mktemp("keepalive"), fixtures=recordings, SSE_KEEPALIVE="1")
    yield s
    s.stop()


def test_the_slow_machine_copy_has_the_same_lines_five_times_slower(tmp_path):
    slowed_copy(FIXTURES, tmp_path, SLOWER)
    for name in ("slow", "stall", "hang"):
        original, copy = (json.loads((d / f"{name}.json").read_text()) for d in (FIXTURES, tmp_path))
        assert [e["line"] for e in copy["stdout"]] == [e["line"] for e in original["stdout"]]
        assert [e["t"] for e in copy["stdout"]] == pytest.approx([e["t"] * SLOWER for e in original["stdout"]],
                                                                 abs=0.001)


def open_request(server, content, stream):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = {"model": "haiku", "messages": [{"role": "user", "content": content}], "stream": stream}
    connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    return connection


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_client_gone_mid_stream_stops_the_cli(server):
    # The CLI holds after the model's message began: it is mid-answer until something kills it.
    connection = open_request(server, "Count [stub:slow] [hold:forever]", stream=True)
    response = connection.getresponse()
    assert response.status == 200
    assert response.read1(65536).startswith(b"data: ")  # the first chunk
    assert fake_cli_processes(server)
    connection.sock.close()
    connection.close()
    assert wait_for(lambda: not fake_cli_processes(server), PROMPTLY)


def test_client_gone_before_the_first_token_stops_the_cli(server):
    connection = open_request(server, "Wait [stub:hang]", stream=True)
    assert wait_for(lambda: fake_cli_processes(server), PROMPTLY)
    connection.sock.close()
    assert wait_for(lambda: not fake_cli_processes(server), PROMPTLY)


def test_client_gone_while_waiting_for_a_whole_answer_stops_the_cli(server):
    connection = open_request(server, "Wait [stub:hang]", stream=False)
    assert wait_for(lambda: fake_cli_processes(server), PROMPTLY)
    connection.sock.close()
    assert wait_for(lambda: not fake_cli_processes(server), PROMPTLY)


def test_deadline_before_the_start_is_a_504(short_server):
    connection = open_request(short_server, "Wait [stub:hang]", stream=True)
    response = connection.getresponse()
    assert response.status == 504
    assert json.loads(response.read())["error"]["type"] == "timeout_error"
    assert wait_for(lambda: not fake_cli_processes(short_server), PROMPTLY)


def test_deadline_kills_a_silent_stream_and_says_so_in_band(short_server):
    connection = open_request(short_server, "Think [stub:stall]", stream=True)
    response = connection.getresponse()
    assert response.status == 200
    events = [line for line in response.read().decode().split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["error"]["type"] == "timeout_error"
    assert wait_for(lambda: not fake_cli_processes(short_server), PROMPTLY)


def test_a_finished_answer_leaves_no_cli_behind(server):
    connection = open_request(server, "Say hi", stream=False)
    assert connection.getresponse().status == 200
    assert wait_for(lambda: not fake_cli_processes(server), PROMPTLY)


def test_a_silent_stream_gets_keep_alive_comments(keepalive_server):
    # Four seconds of silence after the model's message began, keep-alives a second apart: about
    # four, and at least two however late the server's ticks come on a busy machine.
    connection = open_request(keepalive_server, "Think [stub:success] [hold:4]", stream=True)
    response = connection.getresponse()
    assert response.status == 200
    blocks = [b for b in response.read().decode().split("\n\n") if b]
    comments = [i for i, b in enumerate(blocks) if b.startswith(":")]
    assert len(comments) >= 2 and all(blocks[i] == ": keep-alive" for i in comments)
    assert blocks[-1] == "data: [DONE]"
    texts = {i: content(b) for i, b in enumerate(blocks) if b.startswith("data: {")}
    assert "".join(texts.values()) == "Hello! How can I help you today?"
    first_text = min(i for i, text in texts.items() if text)
    assert 0 < comments[0] and comments[-1] < first_text  # in the silence: after the first chunk, before the text


def content(block):
    """The text a stream chunk adds."""
    chunk = json.loads(block[6:])
    return "".join(c["delta"].get("content") or "" for c in chunk["choices"])


def test_streams_are_served_side_by_side(server, tmp_path):
    # Four streams whose CLIs hold, once the model's message began, until the test opens a gate:
    # all four first chunks can only arrive if no stream waits for another to end.
    gate = tmp_path / "gate"
    firsts, ends = [], []

    def one():
        connection = open_request(server, f"Count [stub:slow] [hold:{gate}]", stream=True)
        response = connection.getresponse()
        response.read1(65536)
        firsts.append(time.monotonic())
        ends.append(response.read().decode().rstrip().endswith("data: [DONE]"))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    all_began = wait_for(lambda: len(firsts) == 4, 30)
    gate.touch()
    for thread in threads:
        thread.join(30)
    assert all_began, f"{len(firsts)} of 4 streams began while the others were held"
    assert ends == [True] * 4


# --- a worker that dies, a server that starts again -------------------------------------------------

def run_dirs(tmpdir):
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("claude-proxy-"))


@pytest.fixture
def own_tmp(tmp_path):
    """A server with a TMPDIR of its own, so that its CLIs' private directories can be watched."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    server = Server(tmp_path, TMPDIR=str(tmpdir), MAX_CONCURRENCY="2")
    yield server, tmpdir
    server.stop()


def test_a_sigkilled_worker_leaves_no_cli_behind(own_tmp):
    server, tmpdir = own_tmp
    [worker] = server.workers()
    connections = [open_request(server, "Wait [stub:hang]", stream=False),
                   open_request(server, "Wait [stub:hang]", stream=True)]
    assert wait_for(lambda: len(fake_cli_processes(server)) == 2, 10.0)
    assert len(run_dirs(tmpdir)) == 2 and all(d.startswith(f"claude-proxy-{worker}-") for d in run_dirs(tmpdir))
    os.kill(worker, signal.SIGKILL)
    assert wait_for(lambda: not fake_cli_processes(server), 10.0)
    assert wait_for(lambda: not run_dirs(tmpdir), 10.0)
    for connection in connections:  # the dead worker's clients see their connection end, not a hang
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            connection.getresponse()
    assert wait_for(lambda: server.workers() and server.workers() != [worker], 30.0)
    assert requests.post(server.url + "/v1/chat/completions", timeout=30, json={
        "model": "haiku", "messages": [{"role": "user", "content": "Say hi"}]}).status_code == 200


def test_a_worker_killed_with_its_watchdog_leaves_nothing_once_gunicorn_restarts_it(own_tmp):
    server, tmpdir = own_tmp
    [worker] = server.workers()
    connection = open_request(server, "Wait [stub:hang]", stream=False)
    assert wait_for(lambda: fake_cli_processes(server), 10.0)
    os.kill(watchdog_of(worker), signal.SIGKILL)  # nothing is left to end the CLI but the next worker
    os.kill(worker, signal.SIGKILL)
    assert wait_for(lambda: not fake_cli_processes(server), 30.0)  # the new worker's sweep
    assert wait_for(lambda: not run_dirs(tmpdir), 10.0)
    connection.close()


def test_a_server_starting_removes_the_private_dirs_of_dead_processes_only(tmp_path):
    tmpdir = tmp_path / "tmp"
    ended = subprocess.Popen(["true"])
    ended.wait()
    for name in (f"claude-proxy-{ended.pid}-left1234", f"claude-proxy-{os.getpid()}-live5678", "claude-proxy-old9012"):
        (tmpdir / name / "cwd").mkdir(parents=True)
    server = Server(tmp_path, TMPDIR=str(tmpdir))
    try:
        assert run_dirs(tmpdir) == [f"claude-proxy-{os.getpid()}-live5678", "claude-proxy-old9012"]
    finally:
        server.stop()


# --- SIGTERM: drain ----------------------------------------------------------------------------------

@pytest.fixture
def draining(tmp_path):
    """A server told to stop (SIGTERM) while a stream runs, held open until the test lets it end."""
    hold = tmp_path / "let-it-end"
    server = Server(tmp_path)
    assert requests.get(server.url + "/ready", timeout=10).status_code == 200
    stream = open_request(server, f"Count [stub:slow] [hold:{hold}]", stream=True).getresponse()
    assert stream.status == 200 and stream.read1(65536).startswith(b"data: ")
    server.proc.send_signal(signal.SIGTERM)
    assert wait_for(lambda: requests.get(server.url + "/ready", timeout=10).status_code == 503, 10.0)
    yield server, stream, hold
    hold.touch()
    server.stop()


def test_sigterm_lets_a_running_stream_end_with_done_and_refuses_new_requests(draining):
    server, stream, hold = draining
    refused = requests.post(server.url + "/v1/chat/completions", timeout=30, json={
        "model": "haiku", "messages": [{"role": "user", "content": "Too late"}]})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "server_shutting_down"
    hold.touch()
    events = [e for e in stream.read().decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    text = "".join((json.loads(e[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or "" for e in events[:-1])
    assert text == "one two three four five six"
    assert server.proc.wait(timeout=30) == 0
    assert not fake_cli_processes(server)
    # the one request run (besides the start-up capture of the CLI's records); "Too late" started none
    assert [call["prompt"] for call in server.calls() if call["scenario"] != "seeds"] == [
        f"Count [stub:slow] [hold:{hold}]"]


def test_readiness_fails_while_draining_and_liveness_holds(draining):
    server, stream, hold = draining
    ready = requests.get(server.url + "/ready", timeout=10)
    Spec().response_validator("getReady", 503).validate(ready.json())
    assert ready.json()["status"] == "draining"
    health = requests.get(server.url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["concurrency"]["running"] == 1
    hold.touch()
    assert stream.read().endswith(b"data: [DONE]\n\n")


# --- the one supported shape ---------------------------------------------------------------------------

@pytest.mark.parametrize("flags, named", [(["--workers", "2"], "workers=2"), (["--threads", "8"], "threads=8")])
def test_gunicorn_refuses_a_shape_in_which_the_limit_would_not_hold(tmp_path, flags, named):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "PROXY_"))}
    env.update(CLAUDE_PATH=make_fake_cli(tmp_path, FIXTURES), PORT=str(free_port()))
    done = subprocess.run([sys.executable, "-m", "gunicorn", *flags, "proxy:app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"Configuration error: {named}" in done.stderr
