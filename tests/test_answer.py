"""Recorded CLI events become the answer: text, model, finish reason, usage."""
import pytest

from tests.support import events
from proxy.answer import Answer, StopMatcher, settle
from proxy.api.openai_chat import chunk, completion, finish_reason, usage
from proxy.errors import ProxyError


def read_all(name, stop=None):
    answer, forwarded = Answer("haiku", stop), []
    for event in events(name):
        forwarded += answer.read(event)
        if answer.complete:
            break
    return answer, forwarded


def test_text_is_assembled_from_the_deltas():
    answer, forwarded = read_all("success")
    assert answer.content == "Hello! How can I help you today?"
    assert len([d for d in forwarded if d.content]) == 4
    assert finish_reason(answer) == "stop" and answer.result["is_error"] is False


def test_model_names_the_model_that_answered():
    assert read_all("success")[0].model == "claude-haiku-5-5"
    assert read_all("effort")[0].model == "claude-sonnet-5-5"


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens():
    answer, _ = read_all("cached")
    counts = answer.result["usage"]
    prompt = counts["input_tokens"] + 100 + 20
    assert usage(answer) == {
        "prompt_tokens": prompt, "completion_tokens": counts["output_tokens"],
        "total_tokens": prompt + counts["output_tokens"],
        "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 0}}


def test_thinking_stays_out_of_the_content():
    answer, forwarded = read_all("thinking")
    assert answer.content == "The answer is 4."
    assert "".join(d.reasoning for d in forwarded) == "Let me think about that."


def test_max_tokens_ends_the_answer_at_the_first_turn():
    # The CLI continues on its own after max_tokens; that second turn is not the answer.
    answer, _ = read_all("max_tokens")
    assert answer.complete and answer.result is None
    assert answer.content == "This answer is cut"
    assert finish_reason(answer) == "length"


def test_a_tool_call_ends_the_answer_before_the_cli_answers_it():
    answer, _ = read_all("tool_call")
    assert answer.complete and answer.ends_run and answer.result is None
    assert answer.content == "" and finish_reason(answer) == "stop"


def test_api_error_keeps_its_category_and_sends_no_text():
    answer, forwarded = read_all("rate_limit")
    assert answer.error_category == "rate_limit" and answer.result["is_error"] is True
    assert forwarded == [] and answer.content == ""


def test_stop_sequence_cuts_the_answer():
    answer, _ = read_all("success", stop=["help"])
    assert answer.content == "Hello! How can I " and finish_reason(answer) == "stop"
    assert answer.complete and answer.result is None


@pytest.mark.parametrize("pieces, stops, expected", [
    (["Hel", "lo wor", "ld"], ["lo w"], "Hel"),
    (["ab", "c", "d"], ["cd"], "ab"),
    (["abc"], ["x"], "abc"),
    (["a", "b"], ["bz"], "ab"),
    (["one END", " two"], ["END", "one"], ""),
])
def test_stop_matcher_holds_back_only_what_may_start_a_stop(pieces, stops, expected):
    matcher = StopMatcher(stops)
    out = "".join(matcher.feed(p) for p in pieces)
    if not matcher.hit:
        out += matcher.flush()
    assert out == expected


def test_completion_and_chunks_have_the_openai_shape(check):
    answer, _ = read_all("success")
    body = completion(answer, "chatcmpl-1", 7)
    check("createChatCompletion", 200, body, "CreateChatCompletionResponse")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": answer.content, "refusal": None}
    usage_chunk = chunk("chatcmpl-1", 7, "m", usage=usage(answer))
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0


def test_withdrawn_text_fails_the_answer_even_if_a_retry_succeeds():
    # The proxy disables the CLI's non-streamed retry; if one happened anyway, the text already
    # streamed would not be the answer, so the run must not count as a success.
    answer, _ = read_all("stream_error")
    assert answer.abandoned and not answer.succeeded
    answer.result = dict(answer.result, is_error=False)
    assert not answer.succeeded
    with pytest.raises(ProxyError) as caught:
        settle(answer, 0)
    error = caught.value
    assert (error.status, error.code) == (502, "upstream_error") and "broke off" in error.message
