"""`mia doctor`'s model checks: the configured model exists, what its profile says, and JSON output works."""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from mia.agents.llm import profile as profiles
from mia.agents.llm.client import LLMClient, LLMOutputError
from mia.errors import MiaError, ServiceError
from mia.settings import Settings
from mia.tools.health import Check
from mia.tools.http import RetryPolicy

CHANGE_MODEL = "mia config set llm.model MODEL"


class Ping(BaseModel):
    """The doctor's tiny structured request."""

    ok: bool


def llm_checks(settings: Settings, http: httpx.Client) -> list[Check]:
    """Two checks: "LLM model" (listed by the server or catalog; context, JSON mode, prices with their sources)
    and "LLM JSON output" (one tiny structured request; which JSON mode worked). Never raises."""
    try:
        client = LLMClient.from_settings(settings, http)
    except MiaError:
        return []  # the service check above already says what is missing
    client.retry = RetryPolicy(attempts=1)
    profile = client.load_profile(profiles.store_for(settings.home), context_tokens=settings.llm.context_tokens,
                                  json_mode=settings.llm.json_mode, refresh=True)
    client._profile = profile
    where = "Workers AI's catalog" if client.provider == "workers-ai" else f"the server at {client.base_url}"
    if profile.model_listed is False:
        fix = (f"{CHANGE_MODEL} (a model the server lists)" if client.provider == "openai"
               else f"{CHANGE_MODEL} (see developers.cloudflare.com/workers-ai/models)")
        if profile.dialect == "ollama":
            fix = f"ollama pull {client.model}, or {CHANGE_MODEL}"
        return [Check("LLM model", "fail", f"'{client.model}' is not listed by {where}", fix, network=True)]
    rows = {what: (value, source) for what, value, source in profile.describe()}
    if profile.usd_in_per_m is None and profile.usd_out_per_m is None:
        price = f"no price: {profile.price_source}"
    else:
        price = f"{rows['input price'][0]} in, {rows['output price'][0]} out, from {profile.price_source}"
    # Sources carry their own parentheses ("price table (docs/…)"): say "from", so none nest.
    detail = (f"{client.model} ({profile.dialect}) · context {rows['context'][0]} from {rows['context'][1]} · "
              f"{price}")
    return [Check("LLM model", "ok", detail, network=True), _json_check(client)]


def _json_check(client: LLMClient) -> Check:
    asked = [{"role": "system", "content": "[mia:ping] You answer health checks."},
             {"role": "user", "content": 'Reply with the JSON object {"ok": true} and nothing else.'}]
    try:
        _, replies = client.structured(asked, Ping, max_tokens=64)
    except LLMOutputError as exc:
        said = exc.message[:1].lower() + exc.message[1:]
        return Check("LLM JSON output", "warn", f"{client.profile.json_mode} mode, but {said}",
                     "Use a stronger model for research (mia config set llm.model MODEL).", network=True)
    except ServiceError as exc:
        return Check("LLM JSON output", "fail", exc.message, exc.hint or "", network=True,
                     unreachable=exc.status is None)
    cost = sum(r.usage.cost_usd for r in replies)
    mode = client.profile.json_mode
    how = {"json_schema": "enforced by a JSON Schema", "json_object": "JSON object mode with the schema",
           "text": "no JSON mode: the schema goes in the prompt"}[mode]
    return Check("LLM JSON output", "ok", f"{mode} works ({how}; {client.profile.json_source}; ${cost:.5f})",
                 network=True)
