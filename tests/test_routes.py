"""Settings, auth, models and health."""
import pytest

from proxy import create_app
from proxy.config import ConfigError, Settings, cores
from tests.support import CLAUDE, PINNED, register_start


@pytest.mark.parametrize("environ, message", [
    ({"PORT": "eighty"}, "PORT='eighty' is not a whole number."),
    ({"CLAUDE_TIMEOUT": "soon"}, "CLAUDE_TIMEOUT='soon' is not a number."),
    ({"PORT": "70000"}, "PORT='70000' must be between 1 and 65535."),
    ({"CLAUDE_TIMEOUT": "0"}, "CLAUDE_TIMEOUT='0' must be between 1 and 86400."),
    ({"CLAUDE_EFFORT": "extreme"}, "CLAUDE_EFFORT='extreme' is not one of low, medium, high, xhigh, max."),
    ({"CLAUDE_HISTORY": "json"}, "CLAUDE_HISTORY='json' is not one of transcript, flatten."),
    ({"MAX_CONCURRENCY": "0"}, "MAX_CONCURRENCY='0' must be between 1 and 256."),
    ({"MAX_QUEUE": "lots"}, "MAX_QUEUE='lots' is not a whole number."),
    ({"QUEUE_TIMEOUT": "0"}, "QUEUE_TIMEOUT='0' must be between 0.1 and 86400."),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' is not one of text, json."),
])
def test_a_bad_setting_stops_startup_with_its_name(environ, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ)
    assert str(caught.value) == message


def test_settings_defaults():
    settings = Settings.from_env({"CLAUDE_PATH": "/nonexistent/claude"})
    assert (settings.host, settings.port, settings.model, settings.effort, settings.timeout) == (
        "127.0.0.1", 8082, "haiku", None, 300.0)
    assert settings.api_key is None and settings.max_retries == 0 and settings.history == "transcript"
    assert (settings.max_concurrency, settings.max_queue, settings.queue_timeout, settings.log_format) == (
        cores(), 64, 60.0, "text")


@pytest.fixture
def keyed(fp, settings):
    register_start(fp)
    return create_app(settings.replace(api_key="s3cret")).test_client()


@pytest.mark.parametrize("header", [None, "Bearer wrong", "s3cret", "Basic s3cret"])
def test_proxy_key_is_required_when_set(keyed, header):
    headers = {"Authorization": header} if header else {}
    response = keyed.get("/v1/models", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == {
        "message": "Incorrect API key provided. Send the proxy's key (PROXY_API_KEY) as 'Authorization: Bearer <key>'.",
        "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}


def test_proxy_key_lets_the_right_bearer_in(keyed):
    assert keyed.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert keyed.get("/v1/models", headers={"Authorization": "bearer s3cret"}).status_code == 200


def test_health_needs_no_key(keyed):
    assert keyed.get("/health").status_code == 200


def test_without_a_proxy_key_any_bearer_is_accepted(client):
    assert client.get("/v1/models", headers={"Authorization": "Bearer anything"}).status_code == 200
    assert client.get("/v1/models").status_code == 200


def test_health_reports_the_cli(client, check):
    body = check("getHealth", 200, client.get("/health").get_json())
    assert body == {"status": "ok", "model": "haiku", "effort": None, "cli_version": PINNED, "cli_path": CLAUDE,
                    "host_hidden": True, "concurrency": {"limit": cores(), "queue_size": 64, "running": 0, "queued": 0},
                    "warm": {"enabled": False, "idle": 0, "hits": 0, "misses": 0,
                             "started": 0, "unused": 0}}


def test_health_is_503_when_the_cli_cannot_run(settings, check, fp):
    fp.allow_unregistered(True)
    app = create_app(settings.replace(claude_path="/nonexistent/claude"))
    response = app.test_client().get("/health")
    body = check("getHealth", 503, response.get_json())
    assert response.status_code == 503 and body["status"] == "unavailable" and body["cli_version"] is None
    assert "CLAUDE_PATH='/nonexistent/claude'" in body["message"]


def test_models_lists_the_aliases_and_the_default(fp, settings, check):
    register_start(fp)
    app = create_app(settings.replace(model="claude-opus-4-1"))
    body = check("listModels", 200, app.test_client().get("/v1/models").get_json(), "ListModelsResponse")
    assert [m["id"] for m in body["data"]] == ["haiku", "sonnet", "opus", "fable", "claude-opus-4-1"]
    assert all(m == {"id": m["id"], "object": "model", "created": 0, "owned_by": "anthropic"} for m in body["data"])


@pytest.mark.parametrize("model, status", [("sonnet", 200), ("claude-haiku-4-5", 200), ("claude-sonnet-4-5[1m]", 200),
                                           ("gpt-4o", 404), ("claude", 404)])
def test_retrieve_model(client, check, model, status):
    response = client.get(f"/v1/models/{model}")
    assert response.status_code == status
    check("retrieveModel", status, response.get_json(), "Model" if status == 200 else "ErrorResponse")


def test_every_response_carries_a_request_id(client):
    assert client.get("/v1/nope").headers["x-request-id"].startswith("req_")


def test_a_body_over_the_limit_is_a_413_envelope(client):
    client.application.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/v1/chat/completions", data="x" * 2000, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["type"] == "invalid_request_error"


@pytest.fixture
def ready_app(fp, settings, tmp_path):
    """An app whose CLI is an executable file, as readiness checks it."""
    claude = tmp_path / "claude"
    claude.write_text("#!/bin/sh\n")
    claude.chmod(0o755)
    fp.register([str(claude), "--version"], stdout=f"{PINNED} (Claude Code)\n")
    return create_app(settings.replace(claude_path=str(claude), max_concurrency=1, max_queue=0)), claude


def test_ready_when_the_cli_runs_and_a_request_would_be_taken(ready_app, check):
    response = ready_app[0].test_client().get("/ready")
    assert response.status_code == 200 and check("getReady", 200, response.get_json()) == {"status": "ready"}


def test_not_ready_while_draining_though_alive(ready_app, check):
    app, _ = ready_app
    app.extensions["manager"].admission.drain()
    response = app.test_client().get("/ready")
    assert response.status_code == 503 and check("getReady", 503, response.get_json())["status"] == "draining"
    assert app.test_client().get("/health").status_code == 200


def test_not_ready_when_a_request_would_be_refused(ready_app, check):
    app, _ = ready_app
    app.extensions["manager"].admission.enter(1e12)
    response = app.test_client().get("/ready")
    assert response.status_code == 503 and check("getReady", 503, response.get_json())["status"] == "at_capacity"
    health = app.test_client().get("/health").get_json()
    assert health["concurrency"] == {"limit": 1, "queue_size": 0, "running": 1, "queued": 0}


def test_not_ready_once_the_cli_is_gone(ready_app, check):
    app, claude = ready_app
    claude.unlink()
    response = app.test_client().get("/ready")
    body = check("getReady", 503, response.get_json())
    assert response.status_code == 503 and body["status"] == "cli_unavailable" and str(claude) in body["message"]
