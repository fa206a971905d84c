"""`mia doctor`'s checks: credentials present, endpoint reachable, auth accepted, one line each."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import httpx

from mia.errors import ServiceError
from mia.settings import Settings
from mia.tools.http import RetryPolicy, send

ONE_TRY = RetryPolicy(attempts=1)


@dataclass
class Check:
    """One line of the doctor's table."""

    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""
    network: bool = False
    unreachable: bool = False


def _probe(name: str, fn: Callable[[], str], *, fix: str, needed: bool) -> Check:
    try:
        return Check(name, "ok", fn(), network=True)
    except ServiceError as exc:
        unreachable = exc.status is None
        status = "fail" if needed else "warn"
        return Check(name, status, exc.message, fix if not unreachable else
                     "Check the network, or the base URL setting for this service.", True, unreachable)


def check_workers_ai(settings: Settings, http: httpx.Client) -> Check:
    if settings.llm.provider == "openai":
        base = settings.llm.base_url
        if not base:
            return Check("LLM (OpenAI-compatible)", "fail", "llm.base_url is not set",
                         "mia config set llm.base_url http://127.0.0.1:8080/v1")
        return _probe("LLM (OpenAI-compatible)", lambda: _get_ok(http, f"{base.rstrip('/')}/models", "LLM"),
                      fix="Check llm.base_url and llm.api_key.", needed=True)
    account, token = settings.cloudflare.account_id, settings.secret("cloudflare.api_token")
    missing = [n for n, v in (("CLOUDFLARE_ACCOUNT_ID", account), ("CLOUDFLARE_API_TOKEN", token)) if not v]
    if missing:
        return Check("Workers AI (LLM)", "fail", f"{' and '.join(missing)} not set: reports will be source digests",
                     "mia config set cloudflare.account_id ID; mia config set cloudflare.api_token")
    url = f"{settings.cloudflare.api_base_url.rstrip('/')}/accounts/{account}/ai/models/search?per_page=1"

    def probe() -> str:
        send(http, "GET", url, service="Workers AI", retry=ONE_TRY, headers={"Authorization": f"Bearer {token}"})
        return f"token accepted; model {settings.llm.model}"

    return _probe("Workers AI (LLM)", probe, needed=True,
                  fix="Create a token with Workers AI Read + Edit, then: mia config set cloudflare.api_token")


def check_perplexity(settings: Settings, http: httpx.Client) -> Check:
    key = settings.secret("perplexity.api_key")
    if not key:
        return Check("Perplexity (web search)", "warn", "PERPLEXITY_API_KEY not set: web search is skipped",
                     "mia config set perplexity.api_key")

    def probe() -> str:
        # An empty body is refused with 400 after the key is checked, and is not billed.
        url = f"{settings.perplexity.base_url.rstrip('/')}/search"
        try:
            send(http, "POST", url, service="Perplexity", retry=ONE_TRY, json={},
                 headers={"Authorization": f"Bearer {key}"})
        except ServiceError as exc:
            if exc.status not in (400, 422):
                raise
        return "key accepted"

    return _probe("Perplexity (web search)", probe, fix="Check the key: mia config set perplexity.api_key",
                  needed=False)


def _get_ok(http: httpx.Client, url: str, service: str) -> str:
    send(http, "GET", url, service=service, retry=ONE_TRY)
    return "reachable"


def literature_checks(settings: Settings, http: httpx.Client) -> list[Callable[[], Check]]:
    probes = [
        ("PubMed", f"{settings.pubmed.base_url.rstrip('/')}/einfo.fcgi?db=pubmed&retmode=json"),
        ("Europe PMC", f"{settings.europepmc.base_url.rstrip('/')}/search?query=dmd&pageSize=1&format=json"),
        ("ClinicalTrials.gov", f"{settings.clinicaltrials.base_url.rstrip('/')}/version"),
    ]
    return [partial(_reach, http, name, url) for name, url in probes]


def _reach(http: httpx.Client, name: str, url: str) -> Check:
    return _probe(name, lambda: _get_ok(http, url, name), fix="", needed=True)


def run_checks(settings: Settings, http: httpx.Client, extra: list[Callable[[], Check]] | None = None) -> list[Check]:
    """Every check, in parallel; the order of the result is fixed."""
    jobs: list[Callable[[], Check]] = [lambda: check_workers_ai(settings, http),
                                       lambda: check_perplexity(settings, http),
                                       *literature_checks(settings, http), *(extra or [])]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))


def offline(checks: list[Check]) -> bool:
    """True when every network check failed to connect at all."""
    network = [c for c in checks if c.network]
    return bool(network) and all(c.unreachable for c in network)
