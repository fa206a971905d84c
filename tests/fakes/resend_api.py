"""A loopback fake of the Resend e-mail API: `POST /emails` and `GET /emails/{id}`, with idempotency keys.

Behaviour, as documented (checked 2026-11-30):
- `POST /emails` takes `{from, to[], subject, text, headers}` with `Authorization: Bearer re_…` and answers
  `{"id": "<uuid>"}`; `GET /emails/{email_id}` answers the Email object, whose `message_id` is "The Message-ID
  header value of the email" (Resend OpenAPI, resend/resend-openapi `resend.yaml`, 2026-08-21). Older official
  client types (resend-node `GetEmailResponseSuccess`) have no `message_id`: `reports_message_id=False` answers
  that shape.
- Whether a caller-set `Message-ID` header is kept is not documented; by default this fake gives the delivered
  message Resend's own Message-ID (`keeps_message_id=True` keeps the caller's).
- `Idempotency-Key` (≤256 characters, kept 24 h): the same key with the same payload answers the first response
  without sending again; with another payload 409 `invalid_idempotent_request`; while the first is still in
  progress 409 `concurrent_idempotent_requests`; a bad key 400 `invalid_idempotency_key`
  (resend.com/docs/dashboard/emails/idempotency-keys, /docs/api-reference/errors).
- Errors are `{"statusCode", "name", "message"}`; 429 is the rate limit, 5xx Resend's own trouble
  (resend.com/docs/api-reference/introduction).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakes.loopback import serve, stop

MESSAGES = {  # resend.com/docs/api-reference/errors
    "invalid_idempotent_request": "Same idempotency key used with a different request payload.",
    "concurrent_idempotent_requests": "Same idempotency key used while original request is still in progress.",
    "rate_limit_exceeded": "Too many requests. You can only make 2 requests per second.",
    "internal_server_error": "An unexpected error occurred.",
}


@dataclass
class Delivered:
    """One message Resend actually sent out."""

    email_id: str
    message_id: str
    payload: dict[str, Any]


@dataclass
class Fault:
    """An answer to force on the next `POST /emails`; with `after_send` the mail goes out all the same."""

    status: int
    name: str
    after_send: bool = False


@dataclass
class FakeResend:
    api_key: str = "re_test_key_3f9a"
    keeps_message_id: bool = False
    reports_message_id: bool = True
    delivered: list[Delivered] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)  # every POST: headers and body
    gets: int = 0
    _faults: deque[Fault] = field(default_factory=deque)
    _keys: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)  # key -> (payload, status, body)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> FakeResend:
        self._server = serve(self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self._server)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {"MIA_MAIL_TRANSPORT": "resend", "MIA_RESEND_BASE_URL": self.base_url, "RESEND_API_KEY": self.api_key,
                "MIA_MAIL_FROM_ADDRESS": "Dr Ada Okafor <ada@lab.example.org>", "NO_PROXY": "127.0.0.1,localhost"}

    def fail_next(self, status: int, name: str, *, after_send: bool = False) -> None:
        self._faults.append(Fault(status, name, after_send))

    # --- handling ----------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            if headers.get("authorization") != f"Bearer {self.api_key}":
                status, body = _error(403, "invalid_api_key", "API key is invalid")
            elif h.command == "POST" and h.path == "/emails":
                status, body = self._post(headers, raw)
            elif h.command == "GET" and h.path.startswith("/emails/"):
                status, body = self._get(h.path.removeprefix("/emails/"))
            else:
                status, body = _error(404, "not_found", "The requested endpoint does not exist.")
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _post(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        payload = json.loads(raw or b"{}")
        key = headers.get("idempotency-key")
        self.posts.append({"idempotency_key": key, "payload": payload})
        if key is not None and not 1 <= len(key) <= 256:
            return _error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
        canonical = json.dumps(payload, sort_keys=True)
        if key is not None and key in self._keys:
            seen, status, body = self._keys[key]
            if seen != canonical:
                return _error(409, "invalid_idempotent_request",
                              "Same idempotency key used with a different request payload.")
            return status, body
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and not fault.after_send:
            return _error(fault.status, fault.name, MESSAGES.get(fault.name, fault.name))
        email_id = str(uuid.uuid4())
        own = f"<{email_id}@email.resend.example>"
        message_id = (payload.get("headers") or {}).get("Message-ID") if self.keeps_message_id else None
        self.delivered.append(Delivered(email_id, message_id or own, payload))
        if key is not None:
            self._keys[key] = (canonical, 200, {"id": email_id})
        if fault is not None:  # sent, but the answer is lost on the way back
            return _error(fault.status, fault.name, MESSAGES.get(fault.name, fault.name))
        return 200, {"id": email_id}

    def _get(self, email_id: str) -> tuple[int, dict[str, Any]]:
        self.gets += 1
        found = next((d for d in self.delivered if d.email_id == email_id), None)
        if found is None:
            return _error(404, "not_found", "Email not found")
        p = found.payload
        body = {"object": "email", "id": found.email_id, "to": p.get("to"), "from": p.get("from"),
                "created_at": "2026-11-30 08:00:00.000000+00", "subject": p.get("subject"), "html": None,
                "text": p.get("text"), "bcc": None, "cc": None, "reply_to": None, "last_event": "delivered",
                "scheduled_at": None}
        if self.reports_message_id:
            body["message_id"] = found.message_id
        return 200, body


def _error(status: int, name: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"statusCode": status, "name": name, "message": message}
