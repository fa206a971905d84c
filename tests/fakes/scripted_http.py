"""An httpx.MockTransport handler that answers with scripted replies, for unit tests of one client."""

from __future__ import annotations

import json
from typing import Any

import httpx


class Script:
    """A scripted service: answers each request with the next reply and keeps what it was sent."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.replies.pop(0)

    def body(self, index: int = -1) -> dict[str, Any]:
        return dict(json.loads(self.requests[index].content))
