"""A reranker model on Workers AI: how relevant each passage is to a query (e.g. `@cf/baai/bge-reranker-base`).

Request and answer follow the model's schema in Cloudflare's catalog (cloudflare/cloudflare-docs,
`src/content/workers-ai-models/bge-reranker-base.json`): `POST {api}/accounts/{account}/ai/run/{model}` with
`{"query": str, "contexts": [{"text": str}, ...], "top_k": int}` (query and contexts required); the answer's
`result.response` is a list of `{"id": index into contexts, "score": number}`, best first. Errors come in
Cloudflare's v4 envelope and are raised as ServiceError by `mia.tools.http`.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from mia.models import Usage
from mia.tools.http import RateLimiter, RetryPolicy
from mia.tools.search import ServiceClient

MAX_CONTEXT_CHARS = 2000  # a passage's text sent to the model (the model reads about 512 tokens of a pair)


@dataclass
class Reranked:
    """`order`: indices into the texts, best first (every text once); `usage`: what the call cost."""

    order: list[int]
    usage: Usage


class WorkersAIReranker(ServiceClient):
    """Scores passages against a query with a Workers AI reranker model; prices per million input tokens."""

    name = "reranker"
    service = "Workers AI reranker"
    setting = "research.reranker"
    rate = (10.0, 10)

    def __init__(self, *, http: httpx.Client, base_url: str, account_id: str, api_token: str, model: str,
                 usd_in_per_m: float | None = None, limiter: RateLimiter | None = None,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__(http=http, base_url=base_url, limiter=limiter, retry=retry)
        self.account_id, self.model, self.usd_in_per_m = account_id, model, usd_in_per_m
        self._token = api_token

    def rerank(self, query: str, texts: list[str]) -> Reranked:
        """The order of `texts` by the model's relevance to `query`, best first; texts the model left out keep
        their given order after the ranked ones. Raises ServiceError (HTTP or shape problems)."""
        calls = self.calls()
        contexts = [{"text": (text or " ")[:MAX_CONTEXT_CHARS]} for text in texts]
        response = calls.send("POST", f"accounts/{self.account_id}/ai/run/{self.model}",
                              json={"query": query, "contexts": contexts, "top_k": len(contexts)},
                              headers={"Authorization": f"Bearer {self._token}"})
        try:
            ranked = response.json()["result"]["response"]
            scored = sorted(((float(item["score"]), int(item["id"])) for item in ranked), key=lambda s: -s[0])
        except (ValueError, KeyError, TypeError) as exc:
            raise calls.unexpected(f"no result.response list of {{id, score}} ({exc})") from exc
        order = list(dict.fromkeys(i for _score, i in scored if 0 <= i < len(texts)))
        order += [i for i in range(len(texts)) if i not in set(order)]
        tokens = (len(query) + sum(len(c["text"]) for c in contexts)) // 4  # the service reports no usage
        cost = tokens * (self.usd_in_per_m or 0.0) / 1e6
        usage = calls.usage(cost).model_copy(update={"model": self.model, "input_tokens": tokens,
                                                     "estimated": True})
        return Reranked(order, usage)
