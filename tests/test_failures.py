"""Each recorded CLI failure becomes the right OpenAI error, and no gateway address leaks."""
import pytest

from tests.support import settled
from proxy.failures import Outcome, classify, clean

CASES = {
    "rate_limit": (429, "rate_limit_error", "rate_limit_exceeded", "per-minute rate limit"),
    "overloaded": (503, "server_error", "overloaded", "overloaded"),
    "server_error": (502, "server_error", "upstream_error", "Internal server error"),
    "drop": (502, "server_error", "upstream_error", "Connection dropped"),
    "stream_error": (503, "server_error", "overloaded", "stub stream error"),
    "auth": (503, "server_error", "cli_not_logged_in", "claude login"),
    "forbidden": (429, "rate_limit_error", "insufficient_quota", "Credit balance is too low"),
    "not_logged_in": (503, "server_error", "cli_not_logged_in", "claude login"),
    "prompt_too_long": (400, "invalid_request_error", "context_length_exceeded", "too long"),
    "bad_request": (400, "invalid_request_error", None, "messages.0.content: bad content"),
    "not_found": (404, "invalid_request_error", "model_not_found", "no-such-model"),
}


def error_of(name):
    answer, error = settled(name)
    assert error is not None, f"{name} settled as an answer"
    return error


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_failure_is_classified(name):
    status, kind, code, words = CASES[name]
    error = error_of(name)
    assert (error.status, error.type, error.code) == (status, kind, code)
    assert words.lower() in error.message.lower()
    assert "127.0.0.1" not in error.message


def test_not_found_names_the_model_param():
    assert error_of("not_found").param == "model"


@pytest.mark.parametrize("returncode, stderr, other, expected", [
    (-9, "", [], "killed by signal 9"),
    (1, "Error: When using --print, --output-format=stream-json requires --verbose\n", [],
     "exited with status 1 without an answer: Error: When using --print"),
    (0, "", ["Hello there"], "printed output that is not stream-json, starting 'Hello there'"),
    (127, "", [], "exited with status 127 without an answer."),
])
def test_runs_without_a_result_report_how_the_cli_ended(returncode, stderr, other, expected):
    error = classify(Outcome(result=None, error_category=None, returncode=returncode, stderr=stderr,
                             other_output=other, model="haiku"))
    assert error.status == 502 and error.code == "cli_failed"
    assert expected in error.message


@pytest.mark.parametrize("text, expected", [
    ("check your inference gateway (127.0.0.1:41417).", "check your inference gateway."),
    ("failed at http://10.0.0.5:8080/v1/messages now", "failed at now"),
    ("gateway localhost:9000, retry", "gateway, retry"),
    ("at [::1]:8443.", "at."),
    ("Rate limited · try later", "Rate limited · try later"),
])
def test_clean_removes_addresses(text, expected):
    assert clean(text) == expected
