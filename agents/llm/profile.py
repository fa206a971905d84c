"""The model profile: everything the LLM layer must know about one (provider, base URL, model), found once.

Dialect (Workers AI native, or an OpenAI-compatible server: llama.cpp, llama-cpp-python, Ollama, vLLM or
unknown), context size, the JSON modes the server accepts (strongest first), the Workers AI JSON-schema and
output shapes, server slots and prices, each with where it came from. Discovered from the service, cached
under MIA_HOME (`cache/llm-profiles.json`), overridden by the `llm.*` settings, and corrected by the first
refusal. No other module guesses a model's abilities from its name.

How it is discovered, and the documentation followed: `mia.agents.llm.discovery`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mia.agents.llm.catalog import facts_for

JSON_MODES = ("json_schema", "json_object", "text")
DIALECTS = ("workers-ai", "openai", "llama.cpp", "llama-cpp-python", "ollama", "vllm")
DEFAULT_CONTEXT = 8192  # used when neither the service, the table nor the setting says
PROFILE_TTL_S = 7 * 24 * 3600
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
    apply_dialect(profile, dialect)
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


def apply_dialect(profile: ModelProfile, dialect: str) -> None:
    """Set the dialect and its documented defaults (JSON modes, slots; llama-cpp-python's 2,048-token context)."""
    defaults = _DIALECT_DEFAULTS[dialect]
    profile.dialect = dialect
    profile.json_modes = list(defaults["modes"])
    profile.json_source = f"{dialect} documentation"
    profile.slots, profile.slots_source = defaults["slots"], defaults["slots_source"]
    if dialect == "llama-cpp-python" and profile.context_tokens is None:
        profile.context_tokens = 2048
        profile.context_source = "llama-cpp-python's default n_ctx (llama_cpp/server/settings.py)"


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
