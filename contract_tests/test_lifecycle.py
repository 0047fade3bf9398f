"""However a request ends (deadline, client gone), its CLI's process group is gone."""
import http.client
import json
import time

from contract_tests.support import fake_cli_processes


def open_request(server, content, stream):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
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
    connection = open_request(server, "Count [stub:slow]", stream=True)
    response = connection.getresponse()
    assert response.status == 200
    assert response.read1(65536).startswith(b"data: ")  # the first chunk
    assert fake_cli_processes(server)
    connection.sock.close()
    connection.close()
    gone_at = time.monotonic()
    assert wait_for(lambda: not fake_cli_processes(server), 2.0)
    assert time.monotonic() - gone_at < 2.0


def test_client_gone_before_the_first_token_stops_the_cli(server):
    connection = open_request(server, "Wait [stub:hang]", stream=True)
    assert wait_for(lambda: fake_cli_processes(server), 5.0)
    connection.sock.close()
    assert wait_for(lambda: not fake_cli_processes(server), 2.0)


def test_client_gone_while_waiting_for_a_whole_answer_stops_the_cli(server):
    connection = open_request(server, "Wait [stub:hang]", stream=False)
    assert wait_for(lambda: fake_cli_processes(server), 5.0)
    connection.sock.close()
    assert wait_for(lambda: not fake_cli_processes(server), 2.0)


def test_deadline_before_the_start_is_a_504(short_server):
    connection = open_request(short_server, "Wait [stub:hang]", stream=True)
    response = connection.getresponse()
    assert response.status == 504
    assert json.loads(response.read())["error"]["type"] == "timeout_error"
    assert wait_for(lambda: not fake_cli_processes(short_server), 2.0)


def test_deadline_kills_a_silent_stream_and_says_so_in_band(short_server):
    connection = open_request(short_server, "Think [stub:stall]", stream=True)
    response = connection.getresponse()
    assert response.status == 200
    events = [line for line in response.read().decode().split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["error"]["type"] == "timeout_error"
    assert wait_for(lambda: not fake_cli_processes(short_server), 2.0)


def test_a_finished_answer_leaves_no_cli_behind(server):
    connection = open_request(server, "Say hi", stream=False)
    assert connection.getresponse().status == 200
    assert wait_for(lambda: not fake_cli_processes(server), 2.5)


def test_a_silent_stream_gets_keep_alive_comments(short_server):
    connection = open_request(short_server, "Think [stub:stall]", stream=True)
    response = connection.getresponse()
    blocks = [b for b in response.read().decode().split("\n\n") if b]
    comments = [b for b in blocks if b.startswith(":")]
    assert comments and all(c == ": keep-alive" for c in comments)
    assert len(comments) >= 2  # about one a second over the 3 s before the deadline


def test_streams_are_served_side_by_side(server):
    # Four slow streams at once: each has its first chunk before any of them has finished,
    # so no stream waited for another (gunicorn's threaded worker).
    import threading

    firsts, ends = [], []

    def one():
        connection = open_request(server, "Count [stub:slow]", stream=True)
        response = connection.getresponse()
        response.read1(65536)
        firsts.append(time.monotonic())
        response.read()
        ends.append(time.monotonic())

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ends) == 4 and max(firsts) < min(ends)
