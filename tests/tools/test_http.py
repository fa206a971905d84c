"""The shared HTTP helper: retries, Retry-After, errors in the service's words, the token bucket."""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from mia.errors import ServiceError
from mia.tools.http import RateLimiter, RetryPolicy, get_json, parse_retry_after, send

if TYPE_CHECKING:
    from conftest import FakeService

URL = "https://svc.test/v1/thing"


class Sleeps(list[float]):
    """Records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_retry_after_seconds_set_the_wait_before_the_retry(fake: FakeService, http: httpx.Client):
    fake.on("/v1/thing", fake.reply(429, json_body={"error": "slow down"}, headers={"Retry-After": "3"}),
            fake.reply(json_body={"ok": True}))
    sleeps = Sleeps()

    body = get_json(http, URL, service="Svc", retry=RetryPolicy(max_delay=20), sleep=sleeps)

    assert body == {"ok": True} and len(fake.requests) == 2
    assert sleeps == [3.0]


def test_retry_after_is_capped_by_the_policy(fake: FakeService, http: httpx.Client):
    fake.on("/v1/thing", fake.reply(503, headers={"Retry-After": "3600"}), fake.reply(json_body={}))
    sleeps = Sleeps()

    send(http, "GET", URL, service="Svc", retry=RetryPolicy(max_delay=5), sleep=sleeps)

    assert sleeps == [5.0]


def test_retry_after_as_an_http_date_is_understood():
    later = email.utils.formatdate(time.time() + 30, usegmt=True)

    assert 25 <= (parse_retry_after(later) or 0) <= 30
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_retry_after_falls_back_to_backoff(value: str):
    assert parse_retry_after(value) is None


def test_backoff_grows_and_gives_up_after_the_last_attempt(fake: FakeService, http: httpx.Client):
    fake.on("/v1/thing", fake.reply(502, content=b"<html>Bad gateway</html>"))
    sleeps = Sleeps()

    with pytest.raises(ServiceError) as caught:
        send(http, "GET", URL, service="Svc", retry=RetryPolicy(attempts=4, base_delay=1, max_delay=100),
             sleep=sleeps)

    assert len(fake.requests) == 4 and len(sleeps) == 3
    assert all(0 <= wait <= cap for wait, cap in zip(sleeps, [1, 2, 4], strict=True))
    assert caught.value.status == 502 and caught.value.retryable
    assert "Bad gateway" in caught.value.message


def test_client_errors_are_not_retried_and_keep_the_services_code(fake: FakeService, http: httpx.Client):
    fake.on("/v1/thing", fake.reply(404, json_body={"errors": [{"code": 10007, "message": "Not found"}]}))

    with pytest.raises(ServiceError) as caught:
        send(http, "GET", URL, service="Svc", retry=RetryPolicy(base_delay=0))

    assert caught.value.message == "Svc answered HTTP 404 (code 10007): Not found"
    assert len(fake.requests) == 1


def test_timeouts_are_retried_then_reported_with_the_url():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with client, pytest.raises(ServiceError) as caught:
        send(client, "GET", URL + "?q=secret", service="Svc", retry=RetryPolicy(attempts=3), sleep=Sleeps())

    assert len(calls) == 3
    assert "could not be reached at https://svc.test/v1/thing: ReadTimeout" in caught.value.message
    assert "secret" not in caught.value.message and caught.value.retryable


def test_an_unusable_url_fails_at_once_with_a_base_url_hint(fake: FakeService, http: httpx.Client):
    with pytest.raises(ServiceError) as caught:
        send(http, "GET", "http://[::1/search", service="Svc", sleep=Sleeps())

    assert fake.requests == []
    assert caught.value.hint and "base URL" in caught.value.hint and not caught.value.retryable


def test_a_non_json_body_is_a_service_error(fake: FakeService, http: httpx.Client):
    fake.on("/v1/thing", fake.reply(content=b"<html>login</html>", headers={"content-type": "text/html"}))

    with pytest.raises(ServiceError, match="not JSON"):
        get_json(http, URL, service="Svc")


def test_the_token_bucket_allows_a_burst_then_spaces_calls():
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    bucket = RateLimiter(3, burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.acquire()
    assert sleeps == [pytest.approx(1 / 3), pytest.approx(1 / 3)]

    now[0] += 10  # a quiet spell refills the bucket, but only up to the burst
    for _ in range(4):
        bucket.acquire()
    assert len(sleeps) == 3 and sleeps[-1] == pytest.approx(1 / 3)


def test_the_limiter_is_consulted_before_every_attempt(fake: FakeService, http: httpx.Client):
    fake.on("/v1/thing", fake.reply(429), fake.reply(json_body={}))
    acquired = []

    class CountingLimiter(RateLimiter):
        def acquire(self) -> None:
            acquired.append(1)

    send(http, "GET", URL, service="Svc", limiter=CountingLimiter(1), retry=RetryPolicy(base_delay=0))

    assert len(acquired) == 2


def test_a_deadline_bounds_every_attempt_and_wait_and_ends_the_retries() -> None:
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        raise httpx.ConnectError("refused", request=request)

    sleeps = Sleeps()
    client = httpx.Client(transport=httpx.MockTransport(handler))
    deadline = time.monotonic() + 0.5
    with client, pytest.raises(ServiceError) as caught:
        send(client, "GET", URL, service="Svc", retry=RetryPolicy(attempts=1000, base_delay=0.05, max_delay=60),
             timeout=httpx.Timeout(20.0, connect=5.0), deadline=deadline,
             sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    assert time.monotonic() - deadline < 0.3 and len(seen) < 1000
    assert all(t["read"] <= 0.5 and t["connect"] <= 0.5 for t in seen)  # cut to the time left
    assert all(s <= 0.5 for s in sleeps)
    assert caught.value.status is None and caught.value.retryable and "Svc" in caught.value.message
