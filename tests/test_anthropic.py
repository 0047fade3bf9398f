"""Anthropic's conventions: the error envelope and its types, x-api-key or Bearer, request-id, the models' shape."""
import pytest

from proxy import create_app, errors
from proxy.api.anthropic import status_and_type
from tests.support import CLAUDE, PINNED

VERSION = {"anthropic-version": "2023-06-01"}


@pytest.mark.parametrize("error, expected", [
    (errors.InvalidRequest("x"), (400, "invalid_request_error")),
    (errors.ContextLengthExceeded("x"), (400, "invalid_request_error")),
    (errors.Unauthorized(), (401, "authentication_error")),
    (errors.NotFound("x"), (404, "not_found_error")),
    (errors.MethodNotAllowed("x"), (405, "invalid_request_error")),
    (errors.PayloadTooLarge("x"), (413, "request_too_large")),
    (errors.UnsupportedMediaType("x"), (415, "invalid_request_error")),
    (errors.RateLimited("x"), (429, "rate_limit_error")),
    (errors.RateLimited("x", code="insufficient_quota"), (429, "billing_error")),
    (errors.ProxyError(), (500, "api_error")),
    (errors.UpstreamError("x"), (502, "api_error")),
    (errors.InvalidModelOutput("x"), (502, "api_error")),
    (errors.CliFailed("x"), (502, "api_error")),
    (errors.Overloaded("x"), (529, "overloaded_error")),
    (errors.CliNotLoggedIn("x"), (503, "api_error")),
    (errors.CliUnavailable("x"), (503, "api_error")),
    (errors.Timeout(), (504, "timeout_error")),
])
def test_each_proxy_error_has_an_anthropic_status_and_type(error, expected):
    assert status_and_type(error) == expected


@pytest.fixture
def keyed(fp, settings):
    fp.register([CLAUDE, "--version"], stdout=f"{PINNED} (Claude Code)\n")
    return create_app(settings.replace(api_key="s3cret")).test_client()


@pytest.mark.parametrize("headers", [{"x-api-key": "s3cret"}, {"Authorization": "Bearer s3cret"}])
def test_the_proxy_key_is_taken_as_x_api_key_or_bearer(keyed, headers):
    response = keyed.post("/v1/messages", json={}, headers=headers)
    assert response.status_code == 400  # past the key: the empty body is refused


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"Authorization": "Bearer wrong"}])
def test_a_wrong_or_missing_key_is_an_authentication_error(keyed, headers, check):
    response = keyed.post("/v1/messages", json={}, headers=headers)
    body = check("createMessage", 401, response.get_json())
    assert response.status_code == 401 and body["type"] == "error"
    assert body["error"] == {"type": "authentication_error", "message": (
        "Invalid API key. Send the proxy's key (PROXY_API_KEY) as 'x-api-key: <key>' or "
        "'Authorization: Bearer <key>'.")}
    assert body["request_id"] == response.headers["request-id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("method, path, status", [("GET", "/v1/messages", 405), ("POST", "/v1/messages/batches", 404)])
def test_unknown_routes_under_messages_answer_in_anthropics_envelope(client, method, path, status):
    response = client.open(path, method=method)
    body = response.get_json()
    assert response.status_code == status and body["type"] == "error"
    assert body["error"]["type"] == ("not_found_error" if status == 404 else "invalid_request_error")


def test_an_unknown_route_answers_in_anthropics_envelope_when_the_client_is_anthropics(client):
    assert client.get("/v1/nope", headers=VERSION).get_json()["error"]["type"] == "not_found_error"
    assert client.get("/v1/nope").get_json()["error"]["code"] == "not_found"


def test_models_answer_in_anthropics_shape_with_anthropic_version(client, check):
    response = client.get("/v1/models", headers=VERSION)
    body = check("listModels", 200, response.get_json())
    assert [m["id"] for m in body["data"]] == ["haiku", "sonnet", "opus", "fable"]
    assert body["data"][0] == {"type": "model", "id": "haiku", "display_name": "Claude Haiku (the CLI's latest)",
                               "created_at": "1970-01-01T00:00:00Z", "lifecycle": "active"}
    assert (body["has_more"], body["first_id"], body["last_id"]) == (False, "haiku", "fable")
    assert response.headers["request-id"].startswith("req_")
    assert client.get("/v1/models").get_json()["object"] == "list"


@pytest.mark.parametrize("query, ids, more", [
    ("limit=2", ["haiku", "sonnet"], True), ("limit=2&after_id=sonnet", ["opus", "fable"], False),
    ("after_id=fable", [], False), ("limit=1&before_id=opus", ["sonnet"], True),
])
def test_models_are_paged_as_anthropics_clients_page(client, query, ids, more):
    body = client.get(f"/v1/models?{query}", headers=VERSION).get_json()
    assert ([m["id"] for m in body["data"]], body["has_more"]) == (ids, more)
    assert (body["first_id"], body["last_id"]) == ((ids[0], ids[-1]) if ids else (None, None))


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=1001", "after_id=gpt-4o"])
def test_a_bad_page_is_an_invalid_request_error(client, check, query):
    response = client.get(f"/v1/models?{query}", headers=VERSION)
    body = check("listModels", 400, response.get_json())
    assert response.status_code == 400 and body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("model, status", [("sonnet", 200), ("claude-haiku-4-5", 200), ("gpt-4o", 404)])
def test_retrieve_model_in_anthropics_shape(client, check, model, status):
    response = client.get(f"/v1/models/{model}", headers=VERSION)
    body = check("retrieveModel", status, response.get_json())
    assert response.status_code == status
    assert body["type"] == ("model" if status == 200 else "error")
