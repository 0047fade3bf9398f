"""The proxy's errors: each class knows its HTTP status and what kind of failure it is.

The kind is spelled as OpenAI's error `type` and `code`, the richest of the vocabularies; each
front door turns an error into its own API's envelope (proxy/api/).
"""
from __future__ import annotations


class ProxyError(Exception):
    """An error a client sees as its API's error envelope, with this status and these headers."""

    status = 500
    type = "server_error"
    code = "internal_error"
    default_message = "The proxy failed to handle the request."

    def __init__(self, message=None, *, param=None, code=None, headers=None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.param = param
        self.code = code or self.code
        self.headers = headers or {}


class InvalidRequest(ProxyError):
    status, type, code = 400, "invalid_request_error", None


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class Unauthorized(ProxyError):
    status, type, code = 401, "invalid_request_error", "invalid_api_key"
    default_message = "Incorrect API key provided. Send the proxy's key (PROXY_API_KEY)."


class NotFound(ProxyError):
    status, type, code = 404, "invalid_request_error", "not_found"


class MethodNotAllowed(ProxyError):
    status, type, code = 405, "invalid_request_error", "method_not_allowed"


class PayloadTooLarge(InvalidRequest):
    status = 413


class UnsupportedMediaType(ProxyError):
    status, type, code = 415, "invalid_request_error", "unsupported_media_type"


class RateLimited(ProxyError):
    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"


class Overloaded(ProxyError):
    status, type, code = 503, "server_error", "overloaded"


class AtCapacity(ProxyError):
    """This server runs as many CLIs as it may and its queue is full: retry after Retry-After seconds."""

    status, type, code = 503, "server_error", "server_at_capacity"

    def __init__(self, message, retry_after, reason="queue_full"):
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after
        self.reason = reason  # queue_full, queue_timeout or draining: the metrics' admission result


class Draining(AtCapacity):
    """This server is shutting down: it finishes the answers it has begun and takes no new ones."""

    code = "server_shutting_down"


class UpstreamError(ProxyError):
    status, type, code = 502, "server_error", "upstream_error"


class InvalidModelOutput(ProxyError):
    status, type, code = 502, "server_error", "invalid_model_output"


class CliNotLoggedIn(ProxyError):
    status, type, code = 503, "server_error", "cli_not_logged_in"


class CliUnavailable(ProxyError):
    status, type, code = 503, "server_error", "cli_unavailable"


class CliFailed(ProxyError):
    status, type, code = 502, "server_error", "cli_failed"


class Timeout(ProxyError):
    status, type, code = 504, "timeout_error", "timeout"
    default_message = ("The Claude CLI did not answer within CLAUDE_TIMEOUT; it was stopped. "
                       "Retry, or raise CLAUDE_TIMEOUT for long answers.")


class ClientGone(ProxyError):
    status, code = 499, "client_closed_request"
    default_message = "The client closed the connection."
