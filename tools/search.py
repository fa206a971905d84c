"""The search clients the research agent uses: one protocol, one result type, one factory."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from mia.errors import ServiceError, UsageError
from mia.filters import SearchFilters
from mia.models import Source, Usage
from mia.tools.http import RateLimiter, RetryPolicy, send

if TYPE_CHECKING:
    from pathlib import Path

    from mia.settings import Settings

SOURCE_NAMES = ("web", "pubmed", "europepmc", "trials", "file")  # file: the agent's own documents
SNIPPET_CHARS = 1200
NO_PERPLEXITY_KEY = (
    "Web search skipped: no Perplexity API key "
    "(set PERPLEXITY_API_KEY or `mia config set perplexity.api_key`)."
)

SEARCH_RETRY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=10.0)  # a search is one of many: fail sooner

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SearchTimeouts:
    """How long searches wait, in seconds: to connect, for each read, and in total per source.

    `per_source` bounds all of one source's calls in a run (retries included), counted from its first call.
    """

    connect: float = 5.0
    read: float = 20.0
    per_source: float = 60.0

    @property
    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(self.read, connect=self.connect)


@dataclass
class SearchResult:
    """What one search found, and what it cost."""

    sources: list[Source]
    usage: Usage
    total: int | None = None  # the service's own hit count, when it reports one


class SearchClient(Protocol):
    """A search service: `name` is the source name, `service` the name people know it by."""

    name: str
    service: str

    def search(self, query: str, *, max_results: int = 8) -> SearchResult: ...


class CamelModel(BaseModel):
    """A service's camelCase field names, as snake_case attributes."""

    model_config = ConfigDict(alias_generator=to_camel)


class ServiceClient:
    """What every search client shares: an HTTP client, a base URL, a token bucket per client, retries."""

    name: str
    service: str
    setting: str
    rate: tuple[float, int]  # (requests per second, burst)

    def __init__(self, *, http: httpx.Client, base_url: str, limiter: RateLimiter | None = None,
                 retry: RetryPolicy | None = None, timeouts: SearchTimeouts | None = None) -> None:
        self.http = http
        self.base_url = base_url
        self.limiter = limiter or RateLimiter(self.rate[0], burst=self.rate[1])
        self.retry = retry or SEARCH_RETRY
        self.timeouts = timeouts
        self._deadline: float | None = None
        self._deadline_lock = threading.Lock()
        # The agent's filters: sent to the service where its API filters, checked in code by `kept`.
        self.filters = SearchFilters()

    def kept(self, sources: list[Source]) -> list[Source]:
        """The sources that pass the filters code can check (what the service could not filter)."""
        return [s for s in sources if self.filters.keeps(s)]

    def deadline(self) -> float | None:
        """When this source's time is up (`time.monotonic()`), counted from its first call; None: unbounded."""
        if self.timeouts is None:
            return None
        with self._deadline_lock:
            if self._deadline is None:
                self._deadline = time.monotonic() + self.timeouts.per_source
            return self._deadline

    def calls(self) -> ServiceCalls:
        """A fresh counter for the HTTP calls of one search."""
        return ServiceCalls(self.http, self.service, self.setting, self.base_url, self.limiter, self.retry,
                            timeout=self.timeouts.httpx if self.timeouts else None, deadline=self.deadline())


@dataclass
class ServiceCalls:
    """The HTTP calls of one search, sent through `send`, counted and timed for its Usage.

    One is made per search, so concurrent searches on one client never share counters.
    """

    http: httpx.Client
    service: str
    setting: str  # the base-URL setting, named in hints
    base_url: str
    limiter: RateLimiter | None
    retry: RetryPolicy | None
    timeout: httpx.Timeout | None = None
    deadline: float | None = None
    requests: int = 0
    seconds: float = 0.0

    def url(self, path: str) -> str:
        """The endpoint `path` under the base URL."""
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request with retries and the rate limit, and count it."""
        started = time.perf_counter()
        try:
            return send(self.http, method, self.url(path), service=self.service, retry=self.retry,
                        limiter=self.limiter, timeout=self.timeout, deadline=self.deadline, **kwargs)
        finally:
            self.requests += 1
            self.seconds += time.perf_counter() - started

    def get_json(self, path: str, params: dict[str, str | int]) -> Any:
        """GET `path` and decode its JSON body."""
        return self.decode(self.send("GET", path, params=params))

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of `response`; anything else is a ServiceError."""
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            kind = response.headers.get("content-type", "no content type")
            raise self.unexpected(f"a body that is not JSON ({kind})") from None

    def validate(self, model: type[M], data: Any) -> M:
        """Turn a decoded body into `model`; a wrong shape is a ServiceError, never a KeyError."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(part) for part in err["loc"])
            if not where:
                raise self.unexpected(f"{type(data).__name__} instead of a JSON object") from None
            if err["type"] == "missing":
                raise self.unexpected(f"no '{where}' in the body") from None
            raise self.unexpected(f"'{where}' is malformed ({err['msg']})") from None

    def unexpected(self, what: str) -> ServiceError:
        """The error for a response mia cannot read, with a hint to check the base URL."""
        return ServiceError(
            f"{self.service} returned an unexpected response: {what}.",
            f"Check the {self.setting} setting (now '{self.base_url}') with `mia config show`; "
            f"it should point at the {self.service} API.",
            service=self.service,
        )

    def usage(self, cost_usd: float = 0.0) -> Usage:
        """The aggregated usage of the calls made so far."""
        return Usage(service=self.service, requests=self.requests, cost_usd=cost_usd,
                     latency_ms=round(self.seconds * 1000))


_BLOCK_TAG = re.compile(r"</?(?:h[1-6]|p|br|div|li|ul|ol|tr|td|th|table|section|title)\b[^>]*>", re.I)
_ANY_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def strip_tags(text: str | None) -> str:
    """Plain text from a little HTML: block tags become spaces, inline tags vanish, entities decode."""
    if not text:
        return ""
    text = _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", text))
    return _SPACE.sub(" ", html.unescape(text)).strip()


def clean(text: str | None) -> str:
    """Collapse runs of whitespace."""
    return _SPACE.sub(" ", text or "").strip()


def trim(text: str, limit: int = SNIPPET_CHARS) -> str:
    """Cut `text` to about `limit` characters at a word boundary, marking the cut with an ellipsis."""
    text = clean(text)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def clamp(value: int, high: int) -> int:
    """`value` within 1..high."""
    return max(1, min(int(value), high))


def build_search_clients(
    settings: Settings, http: httpx.Client, names: Iterable[str], *, agent_dir: Path | None = None
) -> tuple[dict[str, SearchClient], list[str]]:
    """Clients for the requested source names, plus one-line notices for the ones skipped.

    `file` searches the documents in `agent_dir` (the research agent's folder); without one it is left out.
    """
    # Imported here because the client modules import the helpers above.
    from mia.tools.clinicaltrials import ClinicalTrials
    from mia.tools.europepmc import EuropePMC
    from mia.tools.perplexity import PerplexitySearch
    from mia.tools.pubmed import PubMed, ncbi_limiter

    wanted = [name.strip().lower() for name in names if name.strip()]
    unknown = [name for name in wanted if name not in SOURCE_NAMES]
    if unknown:
        raise UsageError(f"Unknown source '{unknown[0]}'.", f"Valid sources: {', '.join(SOURCE_NAMES)}.")
    clients: dict[str, SearchClient] = {}
    notices: list[str] = []
    timeouts = SearchTimeouts(connect=settings.search.connect_timeout, read=settings.search.read_timeout,
                              per_source=settings.search.source_timeout)
    # The person's own documents first: they chose them for this question, so their pages lead each batch.
    for name in sorted(dict.fromkeys(wanted), key=lambda n: n != "file"):
        if name == "file":
            if agent_dir is not None:
                from mia.tools.local_files import FileLibrary, FileSearch

                clients[name] = FileSearch(FileLibrary(agent_dir))
            continue
        if name == "web":
            key = settings.secret("perplexity.api_key")
            if not key:
                notices.append(NO_PERPLEXITY_KEY)
                continue
            clients[name] = PerplexitySearch(http=http, base_url=settings.perplexity.base_url, api_key=key,
                                             price_per_request=settings.prices.perplexity_search_usd)
        elif name == "pubmed":
            ncbi_key = settings.secret("pubmed.api_key")
            clients[name] = PubMed(http=http, base_url=settings.pubmed.base_url, api_key=ncbi_key,
                                   email=settings.pubmed.email, limiter=ncbi_limiter(settings.home, ncbi_key))
        elif name == "europepmc":
            clients[name] = EuropePMC(http=http, base_url=settings.europepmc.base_url)
        else:
            clients[name] = ClinicalTrials(http=http, base_url=settings.clinicaltrials.base_url)
        client = clients[name]
        if isinstance(client, ServiceClient):
            client.timeouts = timeouts
    return clients, notices
