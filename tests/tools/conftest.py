"""A scripted fake service behind `httpx.MockTransport`, shared by the client tests."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

Reply = Callable[[httpx.Request], httpx.Response]


class FakeService:
    """Answers each path with its queued replies (the last one repeats) and records every request."""

    @staticmethod
    def reply(status: int = 200, *, json_body: Any = None, content: bytes | str | None = None,
              headers: dict[str, str] | None = None) -> Reply:
        """A canned response; a fresh httpx.Response is built for every request."""

        def respond(request: httpx.Request) -> httpx.Response:
            if json_body is not None:
                return httpx.Response(status, json=json_body, headers=headers)
            return httpx.Response(status, content=content or b"", headers=headers)

        return respond

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._replies: dict[str, deque[Reply]] = defaultdict(deque)

    def on(self, path: str, *replies: Reply) -> None:
        """Queue `replies` for requests to `path`."""
        self._replies[path].extend(replies)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self._replies.get(request.url.path)
        if not queue:
            return httpx.Response(404, json={"error": f"no route for {request.url.path}"})
        respond = queue.popleft() if len(queue) > 1 else queue[0]
        return respond(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def params(self, index: int) -> dict[str, str]:
        """The query parameters of request `index`, as a plain dict (each name once)."""
        params = self.requests[index].url.params
        assert len(params.multi_items()) == len(params), "a parameter was sent twice"
        return dict(params)

    def body(self, index: int) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
def http(fake: FakeService) -> Iterator[httpx.Client]:
    with fake.client() as client:
        yield client
