"""The shared core's pure parts: retry decisions, limiters, error mapping, secrets."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

import httpx
import pytest

from backmarket_shipstation._http import (
    HeaderDrivenLimiter,
    RetryPolicy,
    Secret,
    SlidingWindowLimiter,
    backmarket_error,
    decide_retry,
    server_wait,
    shared_limiter,
    shipstation_error,
)
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import (
    APIError,
    AuthenticationError,
    FirewallBlockedError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)

POLICY = RetryPolicy(max_attempts=4, base_wait=1.0, max_backoff=8.0, max_server_wait=60.0)


def _response(
    status: int, *, headers: dict[str, str] | None = None, **kwargs: object
) -> httpx.Response:
    return httpx.Response(status, headers=headers, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# decide_retry
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses_are_retried_for_gets(status: int) -> None:
    decision = decide_retry(POLICY, method="GET", idempotent=True, attempt=1, status=status)
    assert decision is not None
    assert decision.blind_resend_ok


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    assert decide_retry(POLICY, method="GET", idempotent=True, attempt=1, status=status) is None


def test_backoff_doubles_with_equal_jitter_and_is_capped() -> None:
    def wait(attempt: int, rand: float) -> float:
        policy = RetryPolicy(max_attempts=10, base_wait=1.0, max_backoff=8.0)
        decision = decide_retry(
            policy, method="GET", idempotent=True, attempt=attempt, status=503, rand=rand
        )
        assert decision is not None
        return decision.wait

    assert [wait(n, 0.0) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [wait(n, 0.999999) for n in (1, 2, 3)] == pytest.approx([1.0, 2.0, 4.0], rel=1e-5)


def test_attempts_are_capped() -> None:
    assert decide_retry(POLICY, method="GET", idempotent=True, attempt=3, status=503) is not None
    assert decide_retry(POLICY, method="GET", idempotent=True, attempt=4, status=503) is None


def test_retry_after_seconds_and_http_date_are_honoured() -> None:
    decision = decide_retry(
        POLICY, method="GET", idempotent=True, attempt=1, status=429,
        headers={"Retry-After": "7"}, rand=0.0,
    )  # fmt: skip
    assert decision is not None
    assert decision.wait == 7.0
    now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    assert server_wait({"retry-after": "Mon, 05 Jan 2026 09:00:30 GMT"}, now) == 30.0


def test_shipstation_reset_header_is_honoured_when_nothing_remains() -> None:
    headers = {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "22"}
    decision = decide_retry(
        POLICY, method="GET", idempotent=True, attempt=1, status=429, headers=headers, rand=0.0
    )
    assert decision is not None
    assert decision.wait == 22.0
    # With requests left, the reset is no reason to wait.
    assert server_wait({"X-Rate-Limit-Remaining": "5", "X-Rate-Limit-Reset": "22"}, None) is None


def test_a_server_wait_beyond_the_cap_stops() -> None:
    decision = decide_retry(
        POLICY, method="GET", idempotent=True, attempt=1, status=429, headers={"Retry-After": "600"}
    )
    assert decision is None


def test_rate_limited_wait_applies_to_a_bare_429() -> None:
    policy = RetryPolicy(rate_limited_wait=10.0, base_wait=1.0)
    decision = decide_retry(policy, method="POST", idempotent=False, attempt=1, status=429, rand=0)
    assert decision is not None
    assert decision.wait == 10.0


def test_non_idempotent_writes_are_not_blindly_resent_after_an_unclear_failure() -> None:
    for kwargs in ({"status": 503}, {"error": httpx.ReadTimeout("slow")}):
        decision = decide_retry(POLICY, method="POST", idempotent=False, attempt=1, **kwargs)  # type: ignore[arg-type]
        assert decision is not None
        assert not decision.blind_resend_ok


def test_writes_refused_at_the_door_may_be_resent() -> None:
    refused = decide_retry(POLICY, method="POST", idempotent=False, attempt=1, status=429)
    never_sent = decide_retry(
        POLICY, method="POST", idempotent=False, attempt=1, error=httpx.ConnectError("refused")
    )
    assert refused is not None
    assert refused.blind_resend_ok
    assert never_sent is not None
    assert never_sent.blind_resend_ok


def test_idempotent_writes_are_resent() -> None:
    decision = decide_retry(POLICY, method="POST", idempotent=True, attempt=1, status=500)
    assert decision is not None
    assert decision.blind_resend_ok


def test_programming_errors_are_not_retried() -> None:
    assert (
        decide_retry(POLICY, method="GET", idempotent=True, attempt=1, error=ValueError()) is None
    )


# --------------------------------------------------------------------------------------
# Limiters
# --------------------------------------------------------------------------------------


def test_sliding_window_never_exceeds_its_limit() -> None:
    clock = VirtualClock()
    limiter = SlidingWindowLimiter(clock, limit=5, window=10.0)
    sent: list[float] = []
    for _ in range(23):
        clock.sleep(limiter.reserve())
        sent.append(clock.monotonic())
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 10.0) <= 5
    assert sent[4] == 0.0
    assert sent[5] == 10.0


def test_sliding_window_holds_everything_after_a_429() -> None:
    clock = VirtualClock()
    limiter = SlidingWindowLimiter(clock, limit=100, window=10.0)
    limiter.observe(429, httpx.Headers({}))
    assert limiter.reserve() == 10.0


def test_header_limiter_waits_for_the_next_window_instead_of_a_429() -> None:
    clock = VirtualClock()
    limiter = HeaderDrivenLimiter(clock)
    assert limiter.reserve() == 0.0
    limiter.observe(
        200,
        httpx.Headers(
            {"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "1", "X-Rate-Limit-Reset": "30"}
        ),
    )
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 30.0
    # Each later request queues a further window behind.
    assert limiter.reserve() == 30.0
    for _ in range(38):
        limiter.reserve()
    assert limiter.reserve() == 90.0


def test_header_limiter_assumes_forty_per_minute_before_any_header() -> None:
    clock = VirtualClock()
    limiter = HeaderDrivenLimiter(clock)
    waits = [limiter.reserve() for _ in range(41)]
    assert waits[:40] == [0.0] * 40
    assert waits[40] == 60.0


def test_header_limiter_trusts_a_new_server_window() -> None:
    clock = VirtualClock()
    limiter = HeaderDrivenLimiter(clock)
    for _ in range(40):
        limiter.reserve()
    clock.advance(61)
    limiter.observe(
        200, httpx.Headers({"X-Rate-Limit-Remaining": "39", "X-Rate-Limit-Reset": "59"})
    )
    assert limiter.remaining == 39


def test_limiters_are_shared_per_credential_and_clock_and_keyed_by_hash() -> None:
    clock = VirtualClock()
    other_clock = VirtualClock()
    a = shared_limiter("t", Secret("s1"), clock, HeaderDrivenLimiter)
    b = shared_limiter("t", Secret("s1"), clock, HeaderDrivenLimiter)
    c = shared_limiter("t", Secret("s2"), clock, HeaderDrivenLimiter)
    d = shared_limiter("t", Secret("s1"), other_clock, HeaderDrivenLimiter)
    assert a is b
    assert a is not c
    assert a is not d
    from backmarket_shipstation import _http

    assert all("s1" not in repr(key) for key in _http._LIMITERS)


# --------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------


def test_secret_hides_itself() -> None:
    secret = Secret("hunter2-token")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2-token"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


# --------------------------------------------------------------------------------------
# Back Market error envelopes (backmarket.md §6.3, §6.4)
# --------------------------------------------------------------------------------------


def test_backmarket_v1_envelope() -> None:
    response = _response(
        400,
        json={"error": {"code": "E001", "message": "sku not found"}, "requestId": "req-1"},
    )
    error = backmarket_error("POST", "/ws/orders/1", response)
    assert isinstance(error, InvalidRequestError)
    assert error.message == "E001: sku not found"
    assert error.request_id == "req-1"
    assert error.status_code == 400
    assert error.response is response


def test_backmarket_v2_envelope() -> None:
    body = {"errors": [{"code": "invalid", "message": "bad category", "target": "id"}]}
    error = backmarket_error("GET", "/ws/category/tree", _response(422, json=body))
    assert isinstance(error, InvalidRequestError)
    assert error.message == "id: bad category"


def test_backmarket_v3_problem_json() -> None:
    body = {
        "error": "validation",
        "status": 400,
        "title": "Validation failed",
        "type": "about:blank",
        "requestId": "r-3",
        "errors": [
            {"type": "x", "title": "t", "detail": "price must be positive", "target": "price"}
        ],
    }
    error = backmarket_error("PUT", "/ws/buyback/v1/listings/1", _response(400, json=body))
    assert error.message == "Validation failed; price: price must be positive"
    assert error.request_id == "r-3"


def test_backmarket_backship_envelope() -> None:
    body = {
        "error": {"code": "E009", "message": "Validation error"},
        "data": {"fields": {"orderId": ["An integer is needed."]}},
    }
    error = backmarket_error("GET", "/ws/shipping/v1/deliveries", _response(422, json=body))
    assert error.message == "E009: Validation error; orderId: An integer is needed."


def test_backmarket_bare_string_and_plain_text() -> None:
    bare = backmarket_error(
        "POST", "/ws/listings", _response(400, json="parameter catalog not found")
    )
    assert bare.message == "parameter catalog not found"
    text = backmarket_error(
        "POST", "/ws/orders/1", _response(400, text="new_state 9 must be in 2,3,4,5,6")
    )
    assert text.message == "new_state 9 must be in 2,3,4,5,6"


def test_backmarket_html_403_is_a_firewall_block_with_cf_ray() -> None:
    response = _response(
        403,
        headers={"content-type": "text/html", "cf-ray": "8a1b2c3d4e5f-CDG", "server": "cloudflare"},
        text="<!DOCTYPE html><html><body>Attention Required! Buyer Jane Doe</body></html>",
    )
    error = backmarket_error("GET", "/ws/orders", response)
    assert isinstance(error, FirewallBlockedError)
    assert isinstance(error, PermissionDeniedError)
    assert error.request_id == "8a1b2c3d4e5f-CDG"
    assert "html" not in error.message.lower() or "page" in error.message
    assert "Jane" not in str(error)


def test_backmarket_bot_challenge_is_a_firewall_block() -> None:
    body = {
        "errors": [{"code": "bot-need-challenge", "message": "Forbidden", "challengePath": "/x"}]
    }
    response = _response(403, json=body, headers={"cf-ray": "abc-AMS"})
    error = backmarket_error("GET", "/ws/orders", response)
    assert isinstance(error, FirewallBlockedError)
    assert error.request_id == "abc-AMS"


def test_backmarket_application_403_is_permission_denied() -> None:
    response = _response(403, json={"error": {"code": "forbidden", "message": "not a merchant"}})
    error = backmarket_error("GET", "/ws/orders", response)
    assert type(error) is PermissionDeniedError


def test_backmarket_status_classes() -> None:
    assert isinstance(backmarket_error("GET", "/ws/orders/1", _response(401)), AuthenticationError)
    assert isinstance(backmarket_error("GET", "/ws/orders/1", _response(404)), NotFoundError)
    assert isinstance(backmarket_error("GET", "/ws/orders/1", _response(500)), ServerError)
    limited = backmarket_error("GET", "/ws/orders", _response(429, headers={"Retry-After": "10"}))
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 10.0
    assert type(backmarket_error("GET", "/ws/orders", _response(405))) is APIError


def test_backmarket_404_on_the_list_says_webservices_unavailable() -> None:
    error = backmarket_error("GET", "/ws/orders", _response(404))
    assert "unavailable" in error.message


# --------------------------------------------------------------------------------------
# ShipStation error bodies (shipstation.md §1.5)
# --------------------------------------------------------------------------------------


def test_shipstation_model_state() -> None:
    body = {
        "Message": "The request is invalid.",
        "ModelState": {"apiOrder": ["Cannot deserialize the current JSON array"]},
    }
    error = shipstation_error("POST", "/orders/createorder", _response(400, json=body))
    assert isinstance(error, InvalidRequestError)
    assert error.message == (
        "The request is invalid. apiOrder: Cannot deserialize the current JSON array"
    )
    assert error.details == body


def test_shipstation_exception_message_and_lowercase_message() -> None:
    body = {
        "Message": "An error has occurred.",
        "ExceptionMessage": "Object reference not set to an instance of an object.",
        "ExceptionType": "System.NullReferenceException",
    }
    error = shipstation_error("POST", "/orders/createlabelfororder", _response(500, json=body))
    assert isinstance(error, ServerError)
    assert error.message.endswith("Object reference not set to an instance of an object.")
    limited = shipstation_error(
        "GET",
        "/orders",
        _response(
            429,
            json={"message": "Too Many Requests"},
            headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "12"},
        ),
    )
    assert isinstance(limited, RateLimitedError)
    assert limited.message == "Too Many Requests"
    assert limited.retry_after == 12.0


def test_shipstation_keys_are_matched_case_insensitively() -> None:
    body = {"MESSAGE": "nope", "modelstate": {"orderId": "required"}}
    error = shipstation_error("POST", "/orders/holduntil", _response(400, json=body))
    assert error.message == "nope orderId: required"


@pytest.mark.parametrize(
    "response",
    [
        _response(403, headers={"content-type": "text/html"}, text="<html>Access denied</html>"),
        _response(403),
        _response(403, text="Forbidden"),
    ],
    ids=["html-page", "empty", "plain-text"],
)
def test_shipstation_403_without_its_json_envelope_is_a_block_on_the_way(
    response: httpx.Response,
) -> None:
    # ShipStation states its errors as ASP.NET JSON (shipstation.md §1.5): a 403 without it
    # came from a firewall or proxy, which passes; the key pair was not judged.
    error = shipstation_error("GET", "/shipments", response)
    assert isinstance(error, FirewallBlockedError)
    assert error.api == "ShipStation"
    assert "key pair" in error.message


def test_shipstation_json_403_is_permission_denied() -> None:
    body = {"Message": "Authorization has been denied for this request."}
    error = shipstation_error("GET", "/stores", _response(403, json=body))
    assert type(error) is PermissionDeniedError
    assert error.message == "Authorization has been denied for this request."


def test_backmarket_403_without_any_json_is_a_firewall_block() -> None:
    error = backmarket_error("GET", "/ws/orders", _response(403))
    assert isinstance(error, FirewallBlockedError)
