"""HTTP with retries, backoff, Retry-After and per-service rate limits, shared by every client."""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mia.errors import ServiceError

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; Retry-After wins when the server sends it."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    statuses: frozenset[int] = RETRYABLE_STATUS  # the HTTP statuses worth another attempt

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class RateLimiter:
    """A token bucket shared by threads: `rate` calls per second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, *, burst: int = 1, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until one is available."""
        if self.rate <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "nan" or "inf" would make time.sleep raise or hang
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(response: httpx.Response) -> tuple[str, str | int | None]:
    """The service's own error message and code from the known JSON envelopes."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip().replace("\n", " ")
        return (text[:300] or response.reason_phrase or f"HTTP {response.status_code}"), None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):  # Cloudflare envelope
            return str(errors[0].get("message", "")), errors[0].get("code")
        err = body.get("error")
        if isinstance(err, dict):  # Perplexity / OpenAI
            return str(err.get("message", "")), err.get("code") or err.get("type")
        if isinstance(err, str):
            return err, None
        for key in ("message", "detail", "ERROR"):
            if isinstance(body.get(key), str):
                return body[key], None
    return json.dumps(body)[:300], None


def _raise_for(response: httpx.Response, service: str, hint: str | None, retryable: bool) -> None:
    message, code = error_message(response)
    code_part = f" (code {code})" if code is not None else ""
    if response.status_code in (401, 403) and hint is None:
        hint = f"Check the {service} credentials with `mia doctor`."
    raise ServiceError(
        f"{service} answered HTTP {response.status_code}{code_part}: {message}",
        hint,
        service=service,
        status=response.status_code,
        code=code,
        retryable=retryable,
    )


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    service: str,
    retry: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
    hint: str | None = None,
    stream: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    timeout: httpx.Timeout | None = None,
    deadline: float | None = None,
    give_up: Callable[[httpx.Response], bool] | None = None,
    timeout_attempts: int | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, retrying transient failures; raise ServiceError with the service's message.

    With `stream=True` the successful response is returned unread and the caller must close it.
    `timeout` replaces the client's for this request; `deadline` (a `time.monotonic()` value) bounds the
    whole call, retries included: no attempt or wait runs past it, and reaching it raises a retryable
    ServiceError without a status (the service did not answer in time).
    `give_up(response)` true for an error response raises at once (a refusal that retrying cannot change);
    `timeout_attempts` caps the attempts that end in a timeout (the error then has `code="timeout"`).
    """
    retry = retry or RetryPolicy()
    timeouts = 0
    for attempt in range(1, retry.attempts + 1):
        if limiter:
            limiter.acquire()
        attempt_timeout = _within(deadline, timeout, service, url)
        if attempt_timeout is not None:
            kwargs["timeout"] = attempt_timeout
        try:
            request = client.build_request(method, url, **kwargs)
            response = client.send(request, stream=stream)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:  # retrying cannot fix the URL
            raise ServiceError(
                f"{service} cannot be called at '{url.split('?')[0]}': {exc}",
                "Check the service's base URL setting (`mia config show`); it must start with https://.",
                service=service,
            ) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            timed_out = isinstance(exc, httpx.TimeoutException)
            timeouts += timed_out
            if attempt == retry.attempts or _past(deadline) or (timed_out and timeout_attempts is not None
                                                                and timeouts >= timeout_attempts):
                raise ServiceError(
                    f"{service} could not be reached at {url.split('?')[0]}: {_describe(exc)}",
                    "Check the network and the service's base URL setting (`mia config show`).",
                    service=service, retryable=True, code="timeout" if timed_out else None,
                ) from None
            sleep(_capped(retry.delay(attempt, None), deadline))
            continue
        if response.status_code < 400:
            return response
        if stream:
            response.read()
            response.close()
        transient = response.status_code in retry.statuses and not (give_up is not None and give_up(response))
        if not transient or attempt == retry.attempts:
            _raise_for(response, service, hint, retryable=transient)
        if _past(deadline):
            _raise_for(response, service, hint, retryable=transient)
        sleep(_capped(retry.delay(attempt, parse_retry_after(response.headers.get("retry-after"))), deadline))
    raise AssertionError("unreachable")  # pragma: no cover


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _capped(delay: float, deadline: float | None) -> float:
    """A retry wait that never runs past the deadline."""
    if deadline is None:
        return delay
    return max(0.0, min(delay, deadline - time.monotonic()))


def _within(deadline: float | None, timeout: httpx.Timeout | None, service: str, url: str) -> httpx.Timeout | None:
    """The timeout of the next attempt: `timeout`, each part cut to the time left before `deadline`."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise ServiceError(f"{service} did not answer in time at {url.split('?')[0]}.",
                           "Check the network with `mia doctor`; search timeouts are the search.* settings.",
                           service=service, retryable=True)
    base = timeout or httpx.Timeout(left)

    def cut(part: float | None) -> float:
        return left if part is None else min(part, left)

    return httpx.Timeout(connect=cut(base.connect), read=cut(base.read), write=cut(base.write), pool=cut(base.pool))


def _describe(exc: Exception) -> str:
    """A transport failure in words: timeouts say which wait ran out."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "ConnectTimeout (no connection within the connect timeout)"
    if isinstance(exc, httpx.ReadTimeout):
        return "ReadTimeout (no answer within the read timeout)"
    return f"{type(exc).__name__}: {exc}"


def get_json(client: httpx.Client, url: str, *, service: str, **kwargs: Any) -> Any:
    """GET and decode JSON; a non-JSON body is a ServiceError."""
    response = send(client, "GET", url, service=service, **kwargs)
    return decode_json(response, service)


def decode_json(response: httpx.Response, service: str) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise ServiceError(
            f"{service} returned something that is not JSON (HTTP {response.status_code}, "
            f"{response.headers.get('content-type', 'no content type')}).",
            "Check the service's base URL setting (`mia config show`).",
            service=service, status=response.status_code,
        ) from None
