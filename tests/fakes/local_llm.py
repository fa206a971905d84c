"""Local OpenAI-compatible model servers as switches of the fake's `/openai/` route.

`FakeServices(local=LocalServer("llama.cpp"))` makes `/openai/v1/...` speak one server's documented dialect;
the server root is `/openai/` (so `/openai/props`, `/openai/api/show`). Sources, read 2026-11-30
(summarised in API_NOTES §7):

- **llama.cpp** `llama-server` (ggml-org/llama.cpp `tools/server/README.md`): `response_format` takes
  `json_schema` and `json_object` (with an optional `schema`); `GET /props` has
  `default_generation_settings.n_ctx` and `total_slots`; `/v1/models` entries are `owned_by: "llamacpp"`;
  streams carry usage only with `stream_options.include_usage`; a prompt over the context is HTTP 400 with
  `type: "exceed_context_size_error"`.
- **llama-cpp-python** (`llama_cpp/server/types.py`, `app.py`, `errors.py`, `settings.py`):
  `response_format.type` is `text` or `json_object` (with `schema`); anything else fails validation and is
  answered HTTP 500 with the validation message; one request at a time; streams carry no usage; a
  non-streamed prompt over `n_ctx` (default 2048) is HTTP 400 with `code: "context_length_exceeded"`;
  `/v1/models` entries are `owned_by: "me"`.
- **Ollama** (`docs/openai.md`, `docs/api.md`, `docs/context-length.mdx`): `/v1/chat/completions` takes
  `response_format` `json_schema` and `json_object`; a model not pulled is 404; usage in streams only with
  `include_usage`; prompts over the loaded context are truncated silently; `POST /api/show` gives
  `model_info.<arch>.context_length` and `parameters` (with `num_ctx` when the Modelfile sets it); `/v1/models`
  entries are `owned_by: "library"`; one request at a time by default.
- **vLLM** (`vllm/entrypoints/openai/protocol.py`, `serving_engine.py`): `json_schema` and `json_object`;
  `/v1/models` entries are `owned_by: "vllm"` with `max_model_len`; prompt + `max_tokens` over the window
  is HTTP 400 `{"object": "error", "message": "This model's maximum context length is …"}`.

Every server here can process one request at a time (`slots=1`) at `tokens_per_s` (0: instantly); `peak`
is the most requests it ever worked on at once, so a test can show mia never overlapped them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fakes.shapes import Reply, json_reply

DIALECTS = ("llama.cpp", "llama-cpp-python", "ollama", "vllm")
OWNED_BY = {"llama.cpp": "llamacpp", "llama-cpp-python": "me", "ollama": "library", "vllm": "vllm"}
JSON_TYPES = {"llama.cpp": {"text", "json_object", "json_schema"}, "llama-cpp-python": {"text", "json_object"},
              "ollama": {"text", "json_object", "json_schema"}, "vllm": {"text", "json_object", "json_schema"}}


def prompt_tokens(body: dict[str, Any]) -> int:
    """The fake's token count of a request: ~4 characters a token, as the real tokenisers roughly do."""
    return sum(len(json.dumps(m.get("content", ""))) for m in body.get("messages") or []) // 4 + 1


@dataclass
class LocalServer:
    """One local server's dialect; see the module docstring for each rule's source."""

    dialect: str
    n_ctx: int = 4096
    slots: int = 1
    tokens_per_s: float = 0.0
    models: tuple[str, ...] = ("local-model",)
    num_ctx_parameter: bool = True  # Ollama: the Modelfile sets num_ctx (else only the trained length shows)
    peak: int = 0
    active: int = 0
    refused: list[str] = field(default_factory=list)  # response_format types answered with an error
    received: list[dict[str, Any]] = field(default_factory=list)  # chat requests accepted, as they arrived
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _slots: threading.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {DIALECTS}, not {self.dialect!r}")
        self._slots = threading.Semaphore(self.slots)

    # -- discovery endpoints -----------------------------------------------------------------------------
    def route(self, method: str, path: str, body: Any) -> Reply | None:
        """An answer for a discovery path of this dialect, 404 for another dialect's, None for chat."""
        if path == "/openai/v1/models" and method == "GET":
            entries = [{"id": m, "object": "model", "created": 0, "owned_by": OWNED_BY[self.dialect]}
                       for m in self.models]
            if self.dialect == "vllm":
                entries = [{**e, "root": e["id"], "max_model_len": self.n_ctx} for e in entries]
            if self.dialect == "llama.cpp":
                entries = [{**e, "meta": {"n_ctx_train": self.n_ctx * 4}} for e in entries]
            return json_reply(200, {"object": "list", "data": entries})
        if path == "/openai/props":
            if self.dialect != "llama.cpp":
                return json_reply(404, {"detail": "Not Found"})
            return json_reply(200, {"default_generation_settings": {"n_ctx": self.n_ctx, "temperature": 0.8},
                                    "total_slots": self.slots, "model_path": f"/models/{self.models[0]}.gguf"})
        if path == "/openai/api/show":
            if self.dialect != "ollama":
                return json_reply(404, {"detail": "Not Found"})
            model = (body or {}).get("model") if isinstance(body, dict) else None
            if model not in self.models:
                return json_reply(404, {"error": f"model '{model}' not found"})
            parameters = f"num_ctx                        {self.n_ctx}\nstop \"<|im_end|>\""
            return json_reply(200, {"parameters": parameters if self.num_ctx_parameter else "",
                                    "model_info": {"qwen2.context_length": 32768}, "details": {"family": "qwen2"}})
        if path.startswith("/openai/") and path != "/openai/v1/chat/completions":
            return json_reply(404, {"error": {"message": f"Unknown route {path}", "type": "not_found_error"}})
        return None

    # -- chat completions ---------------------------------------------------------------------------------
    def answer(self, method: str, path: str, body: Any, ask: Callable[[dict[str, Any], str], Any],
               render: Callable[[Any, str, bool, dict[str, Any]], Reply]) -> Reply:
        """The /openai/ route as this server answers it: discovery paths, refusals, then the model's reply
        (`ask(body, model)`, None when the responder raised) rendered by `render(reply, model, stream, body)`."""
        answer = self.route(method, path, body)
        if answer is not None:
            return answer
        request: dict[str, Any] = body if isinstance(body, dict) else {}
        refused = self.refuse(request)
        if refused is not None:
            return refused
        request = self.adjust(request)
        model = str(request.get("model", ""))
        reply = ask(request, model)
        if reply is None:
            return json_reply(500, {"error": {"message": "the fake's LLM responder raised; see FakeServices.errors",
                                              "type": "server_error"}})
        self.generate(reply.completion_tokens)
        return render(reply, model, bool(request.get("stream")), request)

    def refuse(self, body: dict[str, Any]) -> Reply | None:
        """The dialect's error for a request it does not accept (JSON mode, unknown model, context)."""
        model = str(body.get("model", ""))
        if self.dialect == "ollama" and model not in self.models:
            return json_reply(404, {"error": {"message": f"model \"{model}\" not found, try pulling it first",
                                              "type": "api_error", "param": None, "code": None}})
        kind = (body.get("response_format") or {}).get("type", "text")
        if kind not in JSON_TYPES[self.dialect]:
            self.refused.append(kind)
            if self.dialect == "llama-cpp-python":
                message = (f"[{{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': "
                           f"\"Input should be 'text' or 'json_object'\", 'input': '{kind}'}}]")
                return json_reply(500, {"error": {"message": message, "type": "internal_server_error"}})
            return json_reply(400, {"error": {"message": f"response_format {kind} is not supported",
                                              "type": "invalid_request_error"}})
        wanted = prompt_tokens(body) + (int(body.get("max_tokens") or 0) if self.dialect == "vllm" else 0)
        if wanted > self.n_ctx and not body.get("stream"):
            return self._too_long(wanted)
        return None

    def _too_long(self, wanted: int) -> Reply | None:
        if self.dialect == "llama-cpp-python":
            return json_reply(400, {"error": {"message": f"Requested tokens ({wanted}) exceed context window of "
                                                         f"{self.n_ctx}", "type": "invalid_request_error",
                                              "param": "messages", "code": "context_length_exceeded"}})
        if self.dialect == "llama.cpp":
            return json_reply(400, {"error": {"code": 400, "message": "the request exceeds the available context "
                                                                      f"size ({self.n_ctx} tokens)",
                                              "type": "exceed_context_size_error", "n_prompt_tokens": wanted,
                                              "n_ctx": self.n_ctx}})
        if self.dialect == "vllm":
            return json_reply(400, {"object": "error", "message": f"This model's maximum context length is "
                                                                  f"{self.n_ctx} tokens. However, you requested "
                                                                  f"{wanted} tokens.", "type": "BadRequestError",
                                    "param": None, "code": 400})
        return None  # Ollama truncates silently

    def adjust(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request as the server reads it: llama-cpp-python ignores stream_options (no usage in streams)."""
        with self._lock:
            self.received.append(body)
        if self.dialect == "llama-cpp-python":
            return {k: v for k, v in body.items() if k != "stream_options"}
        return body

    def generate(self, completion_tokens: int) -> None:
        """Queue for a slot, then hold it for as long as generating `completion_tokens` takes.

        `peak` counts requests received and not yet answered (queued ones too): what the client sent at once.
        """
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            with self._slots:
                if self.tokens_per_s > 0:
                    time.sleep(completion_tokens / self.tokens_per_s)
        finally:
            with self._lock:
                self.active -= 1


def model_schema(openai_shape: bool) -> dict[str, Any]:
    """A Workers AI model's `/ai/models/schema` result, trimmed to what mia reads.

    Shapes from cloudflare-docs `src/content/workers-ai-models/*.json`: legacy models (llama-3.3) declare
    `response_format: {title: "JSON Mode", properties: {type, json_schema: {}}}` and output `response`;
    newer ones (glm-4.7-flash, qwen3) declare `json_schema: {properties: {name, schema, strict}}` and output
    `choices`.
    """
    if openai_shape:
        declared: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"},
                                                                     "schema": {"type": "object"},
                                                                     "strict": {"type": "boolean"}},
                                    "required": ["name"]}
        output: dict[str, Any] = {"type": "object", "properties": {"choices": {"type": "array"},
                                                                   "usage": {"type": "object"}}}
    else:
        declared = {}
        output = {"type": "object", "properties": {"response": {"type": "string"},
                                                   "tool_calls": {"type": "array"}}}
    response_format = {"title": "JSON Mode", "type": "object",
                       "properties": {"type": {"type": "string", "enum": ["json_object", "json_schema"]},
                                      "json_schema": declared}}
    messages = {"title": "Messages", "properties": {"messages": {"type": "array"},
                                                    "response_format": response_format}}
    return {"input": {"type": "object", "oneOf": [messages]}, "output": output}
