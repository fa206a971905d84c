"""The model profile: everything the LLM layer must know about one (provider, base URL, model), found once.

Dialect (Workers AI native, or an OpenAI-compatible server: llama.cpp, llama-cpp-python, Ollama, vLLM or
unknown), context size, the JSON modes the server accepts (strongest first), the Workers AI JSON-schema and
output shapes, server slots and prices, each with where it came from. Discovered from the service, cached
under MIA_HOME (`cache/llm-profiles.json`), overridden by the `llm.*` settings, and corrected by the first
refusal. No other module guesses a model's abilities from its name.

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
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mia.agents.llm.catalog import facts_for

JSON_MODES = ("json_schema", "json_object", "text")
DIALECTS = ("workers-ai", "openai", "llama.cpp", "llama-cpp-python", "ollama", "vllm")
DEFAULT_CONTEXT = 8192  # used when neither the service, the table nor the setting says
PROFILE_TTL_S = 7 * 24 * 3600
PROBE_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
CACHE_VERSION = 1

_DIALECT_DEFAULTS: dict[str, dict[str, Any]] = {
    # modes: strongest first; slots: requests the server works on at once (None: not limited here)
    "workers-ai": {"modes": ["json_schema", "text"], "slots": 32, "slots_source": "Workers AI (300 requests/min)"},
    "openai": {"modes": list(JSON_MODES), "slots": 2, "slots_source": "unknown server: kept low"},
    "llama.cpp": {"modes": list(JSON_MODES), "slots": 1, "slots_source": "llama.cpp default"},
    "llama-cpp-python": {"modes": ["json_object", "text"], "slots": 1,
                         "slots_source": "llama-cpp-python serves one request at a time"},
    "ollama": {"modes": list(JSON_MODES), "slots": 1,
               "slots_source": "Ollama serves one request per model unless OLLAMA_NUM_PARALLEL is set"},
    "vllm": {"modes": list(JSON_MODES), "slots": 8, "slots_source": "vLLM batches requests"},
}
_OWNED_BY = {"llamacpp": "llama.cpp", "me": "llama-cpp-python", "vllm": "vllm", "library": "ollama",
             "ollama": "ollama"}


@dataclass
class ModelProfile:
    """What one (provider, base URL, model) can do; each figure names its source.

    `json_modes` are the modes still worth trying, strongest first ("json_schema", "json_object", "text");
    `schema_shape` is how `json_schema` is sent ("bare" schema or "wrapped" `{name, schema}`); `output_shape`
    is Workers AI's result shape ("legacy" `response` or "openai" `choices`, None when unknown);
    `context_tokens` is the window in tokens (None: unknown, see `context_size`); `model_listed` says
    whether the server's model list names the model (None: not asked).
    """

    provider: str
    base_url: str
    model: str
    dialect: str = "openai"
    context_tokens: int | None = None
    context_source: str = "unknown"
    json_modes: list[str] = field(default_factory=lambda: list(JSON_MODES))
    json_source: str = "default"
    schema_shape: str = "wrapped"
    output_shape: str | None = None
    tool_call_ids: bool = False  # a legacy Workers AI model that takes `tool_call_id` on tool messages
    no_think: bool = False  # the model honours Qwen3's `/no_think` switch (table, or its chat template)
    slots: int | None = None
    slots_source: str = "unknown"
    model_listed: bool | None = None
    usd_in_per_m: float | None = None
    usd_out_per_m: float | None = None
    price_source: str = "unknown"
    discovered_at: float = 0.0
    answered: bool = False  # at least one discovery request was answered

    @property
    def key(self) -> str:
        return f"{self.provider}|{self.base_url.rstrip('/')}|{self.model}"

    @property
    def json_mode(self) -> str:
        """The strongest JSON mode not yet refused."""
        return self.json_modes[0] if self.json_modes else "text"

    @property
    def context_size(self) -> int:
        """The context window in tokens: the known one, else DEFAULT_CONTEXT."""
        return self.context_tokens or DEFAULT_CONTEXT

    @property
    def legacy_output(self) -> bool:
        """Workers AI models that answer in the legacy `response` shape (tool calls without ids)."""
        return self.provider == "workers-ai" and self.output_shape == "legacy"

    def completion_tokens(self, wanted: int) -> int:
        """`wanted` output tokens, cut to half the context so the prompt keeps the other half."""
        return max(64, min(wanted, self.context_size // 2))

    def prompt_budget(self, completion_tokens: int) -> int:
        """Tokens left for the prompt when `completion_tokens` are asked for (5% kept for framing)."""
        return max(256, int(self.context_size * 0.95) - completion_tokens)

    def concurrency(self, setting: int = 0) -> int:
        """How many LLM requests to have in flight: the setting when > 0, else the server's slots."""
        return setting if setting > 0 else max(1, self.slots or 1)

    def step_down(self, mode: str) -> str:
        """Drop `mode` (refused) and everything stronger; return the next mode to try."""
        if mode in self.json_modes and mode != "text":
            self.json_modes = self.json_modes[self.json_modes.index(mode) + 1:] or ["text"]
            self.json_source = f"{mode} refused by the server"
        return self.json_mode

    def describe(self) -> list[tuple[str, str, str]]:
        """(what, value, source) rows for `mia doctor` and `mia config show`."""
        def price(value: float | None) -> str:
            return "unknown" if value is None else f"${value:g}/M tokens"
        context = f"{self.context_tokens:,} tokens" if self.context_tokens else f"unknown ({DEFAULT_CONTEXT:,} assumed)"
        return [("dialect", self.dialect, "discovered" if self.answered else "from the settings"),
                ("context", context, self.context_source),
                ("JSON mode", self.json_mode, self.json_source),
                ("slots", str(self.slots or 1), self.slots_source),
                ("input price", price(self.usd_in_per_m), self.price_source),
                ("output price", price(self.usd_out_per_m), self.price_source)]


# --- building a profile -----------------------------------------------------------------------------------

def static_profile(provider: str, base_url: str, model: str) -> ModelProfile:
    """A profile from the table and the dialect's defaults alone (no request)."""
    dialect = "workers-ai" if provider == "workers-ai" else "openai"
    profile = ModelProfile(provider, base_url.rstrip("/"), model, dialect=dialect)
    _apply_dialect(profile, dialect)
    facts = facts_for(model) if provider == "workers-ai" else None
    if facts is not None:
        profile.context_tokens, profile.context_source = facts.context_tokens, facts.context_source
        profile.usd_in_per_m, profile.usd_out_per_m = facts.usd_in_per_m, facts.usd_out_per_m
        profile.price_source = facts.price_source
        profile.output_shape, profile.tool_call_ids = facts.output, facts.tool_call_ids
        profile.no_think = facts.no_think
        profile.schema_shape = facts.json_schema or "wrapped"
        profile.json_source = f"table ({facts.context_source})"
    elif provider != "workers-ai":
        profile.price_source = "none for this server (prices.llm_*_usd_per_m set one)"
    return profile


def _apply_dialect(profile: ModelProfile, dialect: str) -> None:
    defaults = _DIALECT_DEFAULTS[dialect]
    profile.dialect = dialect
    profile.json_modes = list(defaults["modes"])
    profile.json_source = f"{dialect} documentation"
    profile.slots, profile.slots_source = defaults["slots"], defaults["slots_source"]
    if dialect == "llama-cpp-python" and profile.context_tokens is None:
        profile.context_tokens = 2048
        profile.context_source = "llama-cpp-python's default n_ctx (llama_cpp/server/settings.py)"


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
    _apply_dialect(profile, dialect)
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


# --- the cache and the overrides ---------------------------------------------------------------------------

class ProfileStore:
    """Profiles cached in one JSON file under MIA_HOME, shared by every client of the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def get(self, key: str) -> ModelProfile | None:
        """The cached profile, or None when absent, unreadable or older than PROFILE_TTL_S."""
        entry = self._read().get(key)
        if not isinstance(entry, dict) or time.time() - float(entry.get("discovered_at", 0)) > PROFILE_TTL_S:
            return None
        try:
            return ModelProfile(**{k: v for k, v in entry.items() if k in ModelProfile.__dataclass_fields__})
        except TypeError:
            return None

    def put(self, profile: ModelProfile) -> None:
        """Write one profile (atomically: a crash leaves the old file)."""
        with self._lock:
            entries = self._read()
            entries[profile.key] = asdict(profile)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "profiles": entries}, indent=1), encoding="utf-8")
            tmp.replace(self.path)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        profiles = data.get("profiles")
        return profiles if isinstance(profiles, dict) else {}


def store_for(home: Path) -> ProfileStore:
    """The profile cache of one MIA_HOME."""
    return ProfileStore(home / "cache" / "llm-profiles.json")


def apply_settings(profile: ModelProfile, *, context_tokens: int = 0, json_mode: str = "auto") -> ModelProfile:
    """The settings win over discovery: `llm.context_tokens` (> 0) and `llm.json_mode` (not auto)."""
    if context_tokens > 0:
        profile.context_tokens, profile.context_source = context_tokens, "the setting llm.context_tokens"
    if json_mode in JSON_MODES:
        profile.json_modes = list(JSON_MODES[JSON_MODES.index(json_mode):])
        profile.json_source = "the setting llm.json_mode"
    return profile


# --- one gate per server ------------------------------------------------------------------------------------

_GATES: dict[str, tuple[int, threading.BoundedSemaphore]] = {}
_GATES_LOCK = threading.Lock()


def server_gate(base_url: str, slots: int) -> threading.BoundedSemaphore:
    """A process-wide semaphore per server: chat answers, background research and extractions share it."""
    key = base_url.rstrip("/")
    with _GATES_LOCK:
        known = _GATES.get(key)
        if known is None or known[0] != slots:
            known = (slots, threading.BoundedSemaphore(max(1, slots)))
            _GATES[key] = known
        return known[1]
