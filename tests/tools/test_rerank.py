"""The Workers AI reranker client against the catalog's schema (cloudflare-docs bge-reranker-base.json)."""

from __future__ import annotations

import json

import httpx
import pytest

from mia.errors import ServiceError
from mia.tools.http import RetryPolicy
from mia.tools.rerank import WorkersAIReranker


def client(handler, usd_in_per_m: float | None = 2.0) -> WorkersAIReranker:  # type: ignore[no-untyped-def]
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return WorkersAIReranker(http=http, base_url="http://127.0.0.1:9/client/v4", account_id="acct",
                             api_token="tok-secret", model="@cf/baai/bge-reranker-base", usd_in_per_m=usd_in_per_m,
                             retry=RetryPolicy(attempts=1))


def test_the_request_follows_the_schema_and_the_answer_orders_every_text() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # best first; index 1 left out by top_k-like truncation, an out-of-range id ignored
        return httpx.Response(200, json={"result": {"response": [{"id": 2, "score": 0.9}, {"id": 0, "score": 0.4},
                                                                 {"id": 7, "score": 0.3}]}, "success": True})

    result = client(handler).rerank("dystrophin", ["a", "b", "c"])
    assert result.order == [2, 0, 1]
    request = seen[0]
    assert request.url.path == "/client/v4/accounts/acct/ai/run/@cf/baai/bge-reranker-base"
    assert request.headers["authorization"] == "Bearer tok-secret"
    assert json.loads(request.content) == {"query": "dystrophin", "contexts": [{"text": "a"}, {"text": "b"},
                                                                               {"text": "c"}], "top_k": 3}
    assert result.usage.model == "@cf/baai/bge-reranker-base" and result.usage.estimated
    assert result.usage.input_tokens == (len("dystrophin") + 3) // 4
    assert result.usage.cost_usd == pytest.approx(result.usage.input_tokens * 2.0 / 1e6)


def test_an_answer_without_the_documented_shape_is_a_service_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"result": {"scores": [0.1]}, "success": True})

    with pytest.raises(ServiceError) as caught:
        client(handler).rerank("q", ["a"])
    assert "unexpected response" in caught.value.message and "tok-secret" not in str(caught.value)
