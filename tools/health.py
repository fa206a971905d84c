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


def _probe(name: str, fn: Callable[[], str], *, fix: str, needed: bool, setting: str = "") -> Check:
    """Run one probe; the fix depends on how it failed (unreachable, refused credentials, anything else)."""
    try:
        return Check(name, "ok", fn(), network=True)
    except ServiceError as exc:
        unreachable = exc.status is None
        if unreachable:
            advice = f"Check the network, or the base URL setting{f' {setting}' if setting else ''}."
        elif exc.status in (401, 403):
            advice = fix
        else:
            advice = f"Check{f' {setting} and' if setting else ''} the account settings (`mia config show`)."
        return Check(name, "fail" if needed else "warn", exc.message, advice, True, unreachable)


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

    return _probe("Workers AI (LLM)", probe, needed=True, setting="cloudflare.account_id / cloudflare.api_base_url",
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
                  needed=False, setting="perplexity.base_url")


def _get_ok(http: httpx.Client, url: str, service: str) -> str:
    send(http, "GET", url, service=service, retry=ONE_TRY)
    return "reachable"


def literature_checks(settings: Settings, http: httpx.Client) -> list[Callable[[], Check]]:
    probes = [
        ("PubMed", "pubmed.base_url", f"{settings.pubmed.base_url.rstrip('/')}/einfo.fcgi?db=pubmed&retmode=json"),
        ("Europe PMC", "europepmc.base_url",
         f"{settings.europepmc.base_url.rstrip('/')}/search?query=dmd&pageSize=1&format=json"),
        ("ClinicalTrials.gov", "clinicaltrials.base_url", f"{settings.clinicaltrials.base_url.rstrip('/')}/version"),
    ]
    return [partial(_reach, http, name, setting, url) for name, setting, url in probes]


def _reach(http: httpx.Client, name: str, setting: str, url: str) -> Check:
    return _probe(name, lambda: _get_ok(http, url, name), fix="", needed=True, setting=setting)


def check_r2(settings: Settings) -> Check:
    """The R2 mirror: skipped when not configured; else list, put, get and delete a probe under the prefix."""
    from mia.store.r2 import missing_r2_settings, probe_bucket, r2_configured

    name = "R2 mirror (mia sync)"
    if not r2_configured(settings):
        return Check(name, "skip", "not configured; R2 is optional (it mirrors the workspace)",
                     "mia config set r2.bucket NAME (plus r2.access_key_id, r2.secret_access_key)")
    missing = missing_r2_settings(settings)
    if missing:
        return Check(name, "warn", f"{', '.join(missing)} not set",
                     "mia config set r2.bucket / r2.access_key_id / r2.secret_access_key / cloudflare.account_id")
    return _probe(name, lambda: probe_bucket(settings), needed=False,
                  fix="Check r2.bucket and that the R2 token can read and write it.")


def run_checks(settings: Settings, http: httpx.Client, extra: list[Callable[[], Check]] | None = None) -> list[Check]:
    """Every check, in parallel; the order of the result is fixed."""
    jobs: list[Callable[[], Check]] = [lambda: check_workers_ai(settings, http),
                                       lambda: check_perplexity(settings, http),
                                       *literature_checks(settings, http), lambda: check_r2(settings),
                                       *(extra or [])]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))


def offline(checks: list[Check]) -> bool:
    """True when every network check failed to connect at all."""
    network = [c for c in checks if c.network]
    return bool(network) and all(c.unreachable for c in network)
