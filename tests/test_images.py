"""Remote image URLs: refused unless the operator allows fetching, and never from non-public hosts."""
import base64
import http.server
import threading

import pytest

from proxy import images
from proxy.api.openai_chat_input import to_cli_input
from proxy.errors import InvalidRequest

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def body_with(url):
    return {"model": "haiku", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]}]}


def test_remote_urls_are_refused_by_default(client, fp):
    response = client.post("/v1/chat/completions", json=body_with("https://example.com/cat.png"))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["param"] == "messages[0].content[1]" and "CLAUDE_IMAGE_FETCH" in error["message"]


@pytest.mark.parametrize("url", ["http://127.0.0.1/a.png", "http://localhost:8082/a.png", "http://[::1]/a.png",
                                 "http://10.1.2.3/a.png", "http://169.254.169.254/latest/meta-data",
                                 "http://192.168.0.1/a.png", "http://[::ffff:127.0.0.1]/a.png", "http://0.0.0.0/"])
def test_non_public_hosts_are_never_fetched(settings, url, monkeypatch):
    monkeypatch.setattr(images.socket, "create_connection", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(InvalidRequest) as caught:
        to_cli_input(body_with(url), settings.replace(image_fetch=True))
    assert "non-public" in caught.value.message


class Images(http.server.BaseHTTPRequestHandler):
    routes = {"/cat.png": (200, "image/png", PNG), "/big.png": (200, "image/png", PNG * 100),
              "/page": (200, "text/html", b"<html>"), "/moved": (302, "image/png", b"")}

    def do_GET(self):
        status, kind, data = self.routes[self.path]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if status == 302:
            self.send_header("Location", "http://169.254.169.254/")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def image_server(monkeypatch):
    # Loopback is the only network here: let the address policy admit it for these tests alone.
    monkeypatch.setattr(images, "allowed", lambda address: address.is_loopback)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_allowed_image_is_inlined(settings, image_server):
    cli_input, _ = to_cli_input(body_with(image_server + "/cat.png"), settings.replace(image_fetch=True))
    assert cli_input.message[1]["source"] == {"type": "base64", "media_type": "image/png",
                                                   "data": base64.b64encode(PNG).decode()}


@pytest.mark.parametrize("path, words", [("/big.png", "larger than 1000 bytes"), ("/page", "not a PNG"),
                                         ("/moved", "HTTP 302 (redirects are not followed)")])
def test_fetching_is_bounded(settings, image_server, path, words):
    with pytest.raises(InvalidRequest) as caught:
        to_cli_input(body_with(image_server + path), settings.replace(image_fetch=True, image_max_bytes=1000))
    assert words in caught.value.message


def test_a_fetched_image_reaches_the_cli(app, fp, replay, image_server):
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(image_fetch=True)
    replay("image")
    response = app.test_client().post("/v1/chat/completions", json=body_with(image_server + "/cat.png"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["choices"][0]["message"]["content"] == "Hello! How can I help you today?"
    assert "--input-format" in fp.calls[-1]
