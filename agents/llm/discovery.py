"""Discovering a model profile: ask the service what the model is and can do; never fail for it.

Sources followed (API_NOTES §1, §6, §7):
- Workers AI: `GET /accounts/{id}/ai/models/schema?model=…` → `result.input` / `result.output` JSON schemas
  (cloudflare-docs `src/content/workers-ai-models/*.json` show the same schemas: legacy models declare
  `response_format.json_schema: {}`, newer ones `{name, schema, strict}`); `GET …/ai/models/search` →
  `properties` with `context_window` and `price`.
- llama.cpp server (`tools/server/README.md`): `GET /props` → `default_generation_settings.n_ctx`,
  `total_slots`; `/v1/models` entries are `owned_by: "llamacpp"`.
- llama-cpp-python (`llama_cpp/server/types.py`, `settings.py`): `response_format` `text` or `json_object`
  (with `schema`), one request at a time, default `n_ctx` 2048; `/v1/models` entries `owned_by: "me"`.
- Ollama (`docs/openai.md`, `docs/api.md`, `docs/context-length.mdx`): `POST /api/show` → `model_info`
  `<arch>.context_length` and `parameters` (`num_ctx`); the loaded context defaults to 4096 on small GPUs.
- vLLM (`vllm/entrypoints/openai/protocol.py`): `/v1/models` entries carry `max_model_len`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx

from mia.agents.llm.profile import ModelProfile, apply_dialect, static_profile

PROBE_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
_OWNED_BY = {"llamacpp": "llama.cpp", "me": "llama-cpp-python", "vllm": "vllm", "library": "ollama",
             "ollama": "ollama"}


def discover(http: httpx.Client, *, provider: str, base_url: str, model: str, headers: dict[str, str],
             account_id: str | None = None) -> ModelProfile:
    """A profile found by asking the service; a probe that fails leaves the table's or default's answer.

    Never raises for an unreachable or unhelpful server: discovery only improves on `static_profile`.
    """
    profile = static_profile(provider, base_url, model)
    if provider == "workers-ai":
        _discover_workers_ai(profile, http, headers, account_id or "")
    else:
        _discover_openai(profile, http, headers)
    profile.discovered_at = time.time()
    return profile


def _get(http: httpx.Client, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
    """GET (or POST with json=) and decode; None on any failure."""
    method = "POST" if "json" in kwargs else "GET"
    try:
        response = http.request(method, url, headers=headers, timeout=PROBE_TIMEOUT, **kwargs)
    except Exception:  # discovery never fails a call: an unanswered probe leaves the default
        return None
    if response.status_code >= 400:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _discover_workers_ai(profile: ModelProfile, http: httpx.Client, headers: dict[str, str], account: str) -> None:
    base = f"{profile.base_url}/accounts/{account}/ai/models"
    schema = _get(http, f"{base}/schema", headers, params={"model": profile.model})
    result = schema.get("result") if isinstance(schema, dict) else None
    if isinstance(result, dict):
        profile.answered = True
        shape = json_schema_shape(result.get("input"))
        source = "the model's input schema (/ai/models/schema)"
        if shape is None:
            profile.json_modes, profile.json_source = ["text"], f"{source}: no response_format"
        else:
            profile.schema_shape, profile.json_source = shape, f"{source}: {shape} json_schema"
        output = output_shape(result.get("output"))
        if output is not None:
            profile.output_shape = output
        profile.tool_call_ids = "tool_call_id" in _property_names(result.get("input"))
    search = _get(http, f"{base}/search", headers, params={"search": profile.model})
    entries = search.get("result") if isinstance(search, dict) else None
    entry = next((e for e in entries or [] if isinstance(e, dict) and e.get("name") == profile.model), None)
    if isinstance(entries, list):  # the catalog answered: the model is in it or it is not
        profile.model_listed = entry is not None
    if entry is not None:
        profile.answered = True
        _catalog_properties(profile, entry.get("properties"))


def _catalog_properties(profile: ModelProfile, properties: Any) -> None:
    """context_window and price from a catalog entry's `properties` list."""
    for item in properties if isinstance(properties, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("property_id") == "context_window":
            with contextlib.suppress(TypeError, ValueError):
                profile.context_tokens = int(str(item.get("value")))
                profile.context_source = "the Workers AI catalog (/ai/models/search)"
        if item.get("property_id") == "price" and isinstance(item.get("value"), list):
            for price in item["value"]:
                unit = str(price.get("unit", "")) if isinstance(price, dict) else ""
                if "input" in unit and isinstance(price.get("price"), int | float):
                    profile.usd_in_per_m = float(price["price"])
                elif "output" in unit and isinstance(price.get("price"), int | float):
                    profile.usd_out_per_m = float(price["price"])
            profile.price_source = "the Workers AI catalog (/ai/models/search)"


def _walk(node: Any) -> Any:
    """Every dict inside a JSON value, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def json_schema_shape(input_schema: Any) -> str | None:
    """How a Workers AI model's input schema declares `response_format.json_schema`.

    "bare" when `json_schema` is declared without properties (`{}`: the JSON Schema itself goes there),
    "wrapped" when it declares `name`/`schema` properties, None when the model has no `response_format`.
    """
    formats = [d["properties"]["response_format"] for d in _walk(input_schema)
               if isinstance(d.get("properties"), dict) and isinstance(d["properties"].get("response_format"), dict)]
    if not formats:
        return None
    for candidate in _walk(formats):
        declared = candidate.get("properties", {}).get("json_schema") if isinstance(
            candidate.get("properties"), dict) else None
        if isinstance(declared, dict):
            props = declared.get("properties")
            return "wrapped" if isinstance(props, dict) and ("schema" in props or "name" in props) else "bare"
    return "bare"


def output_shape(output_schema: Any) -> str | None:
    """"openai" when a Workers AI output schema declares `choices`, "legacy" for `response`, else None."""
    names = _property_names(output_schema)
    if "choices" in names:
        return "openai"
    return "legacy" if "response" in names else None


def _property_names(schema: Any) -> set[str]:
    return {name for d in _walk(schema) if isinstance(d.get("properties"), dict) for name in d["properties"]}


def _server_root(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def _discover_openai(profile: ModelProfile, http: httpx.Client, headers: dict[str, str]) -> None:
    listing = _get(http, f"{profile.base_url}/models", headers)
    data = listing.get("data") if isinstance(listing, dict) else None
    dialect: str | None = None
    if isinstance(data, list):
        profile.answered = True
        entries = [e for e in data if isinstance(e, dict)]
        entry = next((e for e in entries if e.get("id") == profile.model), None)
        profile.model_listed = entry is not None if entries else None
        sample = entry or (entries[0] if entries else {})
        dialect = _OWNED_BY.get(str(sample.get("owned_by", "")))
        if isinstance(sample.get("max_model_len"), int):
            dialect = "vllm"
            _set_context(profile, sample["max_model_len"], "vLLM /v1/models max_model_len")
    root = _server_root(profile.base_url)
    if dialect in (None, "llama.cpp"):
        props = _get(http, f"{root}/props", headers)
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        if isinstance(settings, dict):
            profile.answered, dialect = True, "llama.cpp"
            _set_context(profile, settings.get("n_ctx"), "llama.cpp /props n_ctx")
            # a chat template with Qwen3's `enable_thinking` switch: the model was trained on `/no_think` too
            # (Qwen3 model card, "Switching Between Thinking and Non-Thinking Mode")
            profile.no_think = "enable_thinking" in str(props.get("chat_template", ""))
            if isinstance(props.get("total_slots"), int) and props["total_slots"] > 0:
                profile.slots, profile.slots_source = props["total_slots"], "llama.cpp /props total_slots"
                _apply_dialect_keep_slots(profile, dialect)
                return
    if dialect in (None, "ollama"):
        shown = _get(http, f"{root}/api/show", headers, json={"model": profile.model})
        if isinstance(shown, dict) and ("model_info" in shown or "parameters" in shown):
            profile.answered, dialect = True, "ollama"
            _ollama_context(profile, shown)
    if dialect is not None:
        _apply_dialect_keep_slots(profile, dialect, keep=False)


def _apply_dialect_keep_slots(profile: ModelProfile, dialect: str, keep: bool = True) -> None:
    slots, source = profile.slots, profile.slots_source
    apply_dialect(profile, dialect)
    if keep:
        profile.slots, profile.slots_source = slots, source


def _set_context(profile: ModelProfile, value: Any, source: str) -> None:
    if isinstance(value, int) and value > 0:
        profile.context_tokens, profile.context_source = value, source


def _ollama_context(profile: ModelProfile, shown: dict[str, Any]) -> None:
    """The loaded context: `num_ctx` from the model's parameters, else min(trained, Ollama's 4096 default)."""
    for line in str(shown.get("parameters") or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
            _set_context(profile, int(parts[1]), "Ollama /api/show parameters num_ctx")
            return
    info: dict[str, Any] = shown["model_info"] if isinstance(shown.get("model_info"), dict) else {}
    trained = next((v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)), None)
    loaded = min(trained, 4096) if trained else 4096
    _set_context(profile, loaded, "Ollama's default loaded context (docs/context-length.mdx; /api/show "
                                  f"context_length {trained or 'unknown'}); set OLLAMA_CONTEXT_LENGTH and "
                                  "llm.context_tokens for more")
