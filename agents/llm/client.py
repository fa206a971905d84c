"""The LLM client: Workers AI (native /ai/run) or an OpenAI-compatible server; streaming and JSON output."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from mia.agents.llm import discovery, json_mode
from mia.agents.llm import profile as profiles
from mia.agents.llm.answer import finish_answer
from mia.agents.llm.json_mode import LLMOutputError
from mia.agents.llm.profile import ModelProfile
from mia.agents.llm.shapes import (
    LLMResponse,
    Pricing,
    ToolCall,
    estimate_tokens,
    normalise_result,
    string_content,
)
from mia.agents.llm.stream_read import stream_reply
from mia.errors import ConfigError, ContextLengthExceeded, MissingCredentialError, ServiceError
from mia.settings import Settings
from mia.tools.http import RateLimiter, RetryPolicy, decode_json, send

__all__ = ["LLMClient", "LLMOutputError", "LLMResponse", "ToolCall"]

T = TypeVar("T", bound=BaseModel)

PROVIDERS = ("workers-ai", "openai")
MODEL_REJECTED_CODES = {5007, 3042, 5016, 5028}
ALLOWANCE_CODES = {3036, 4006}
CONTEXT_CODES = {3006, 3030, 5021, "context_length_exceeded", "exceed_context_size_error"}
GENERATION_TIMEOUT_ATTEMPTS = 2  # a timed-out generation is sent at most once more


def _code(exc: ServiceError) -> int | None:
    try:
        return int(exc.code) if exc.code is not None else None
    except (TypeError, ValueError):
        return None


def _openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool in the OpenAI form, which both Workers AI and OpenAI servers accept."""
    return tool if "function" in tool else {"type": "function", "function": tool}


class LLMClient:
    """Chat, stream and structured output against one model; every reply carries its priced usage."""

    def __init__(self, *, http: httpx.Client, provider: str, model: str, base_url: str, api_key: str | None,
                 account_id: str | None, max_tokens: int, temperature: float, usd_per_1k_neurons: float,
                 input_usd_per_m: float | None = None, output_usd_per_m: float | None = None,
                 limiter: RateLimiter | None = None, retry: RetryPolicy | None = None,
                 session_id: str | None = None, timeout: float | None = None,
                 profile: ModelProfile | Callable[[LLMClient], ModelProfile] | None = None,
                 concurrency: int = 0) -> None:
        if provider not in PROVIDERS:
            raise ConfigError(f"Unknown LLM provider '{provider}'.",
                              "Set it with `mia config set llm.provider workers-ai` (or openai).")
        if provider == "workers-ai" and (not account_id or not api_key):
            raise _missing_cloudflare(account_id, api_key)
        self.http, self.provider, self.model = http, provider, model
        self.base_url = base_url.rstrip("/")
        self.api_key, self.account_id = api_key, account_id
        self.max_tokens, self.temperature = max_tokens, temperature
        self.limiter = limiter if limiter is not None else RateLimiter(5, burst=20)  # 300 requests/min
        self.retry, self.session_id, self.timeout = retry, session_id, timeout
        self.refused_streamed_tools = False  # set when the service refused a streamed request with tools
        self.pricing = Pricing(self.service, provider, model, usd_per_1k_neurons, input_usd_per_m,
                               output_usd_per_m)
        self._profile = profile if isinstance(profile, ModelProfile) else None
        self._profile_loader = profile if callable(profile) else None
        self._profile_lock = threading.Lock()
        self._remember: Callable[[ModelProfile], None] = lambda _profile: None
        self.concurrency_setting = concurrency

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.Client, *, model: str | None = None) -> LLMClient:
        """Build the client from settings; missing credentials raise MissingCredentialError with the fix."""
        llm = settings.llm
        if llm.provider == "openai":
            if not llm.base_url:
                raise MissingCredentialError(
                    "llm.provider is 'openai' but llm.base_url (MIA_LLM_BASE_URL) is not set.",
                    "Set it with `mia config set llm.base_url URL` (e.g. http://127.0.0.1:8080/v1), "
                    "or export MIA_LLM_BASE_URL.")
            base_url, api_key, account_id = llm.base_url, settings.secret("llm.api_key"), None
        else:
            account_id, api_key = settings.cloudflare.account_id, settings.secret("cloudflare.api_token")
            if not account_id or not api_key:
                raise _missing_cloudflare(account_id, api_key)
            base_url = settings.cloudflare.api_base_url
        prices = settings.prices
        store = profiles.store_for(settings.home)

        def load(client: LLMClient) -> ModelProfile:
            return client.load_profile(store, context_tokens=llm.context_tokens, json_mode=llm.json_mode)

        return cls(http=http, provider=llm.provider, model=model or llm.model, base_url=base_url,
                   api_key=api_key, account_id=account_id, max_tokens=llm.max_tokens,
                   temperature=llm.temperature, usd_per_1k_neurons=prices.usd_per_1k_neurons,
                   input_usd_per_m=prices.llm_input_usd_per_m, output_usd_per_m=prices.llm_output_usd_per_m,
                   timeout=llm.timeout, profile=load, concurrency=llm.concurrency)

    @property
    def profile(self) -> ModelProfile:
        """This model's profile: discovered (or read from the cache) on first use, else from the table."""
        with self._profile_lock:
            if self._profile is None:
                loader = self._profile_loader
                self._profile = loader(self) if loader is not None else profiles.static_profile(
                    self.provider, self.base_url, self.model)
            return self._profile

    def load_profile(self, store: profiles.ProfileStore, *, context_tokens: int = 0, json_mode: str = "auto",
                     refresh: bool = False) -> ModelProfile:
        """The cached profile, or one discovered now (and cached when the server answered); settings win."""
        key = profiles.static_profile(self.provider, self.base_url, self.model).key
        found = None if refresh else store.get(key)
        if found is None:
            headers = {k: v for k, v in self._headers().items() if k != "x-session-affinity"}
            found = discovery.discover(self.http, provider=self.provider, base_url=self.base_url, model=self.model,
                                      headers=headers, account_id=self.account_id)
            if found.answered:
                store.put(found)

        discovered = dataclasses.replace(found, json_modes=list(found.json_modes))

        def remember(changed: ModelProfile) -> None:  # what a refusal taught, without the settings' overrides
            discovered.json_modes, discovered.json_source = list(changed.json_modes), changed.json_source
            discovered.schema_shape = changed.schema_shape
            store.put(discovered)
        self._remember = remember
        return profiles.apply_settings(found, context_tokens=context_tokens, json_mode=json_mode)

    @property
    def context_tokens(self) -> int:
        """The model's context window in tokens (the profile's figure, or its default when unknown)."""
        return self.profile.context_size

    def completion_tokens(self, wanted: int | None = None) -> int:
        """max_tokens for a call: `wanted` (default `llm.max_tokens`) fitted to half the context."""
        return self.profile.completion_tokens(wanted or self.max_tokens)

    @property
    def service(self) -> str:
        """The name errors and usage records use."""
        return "Workers AI" if self.provider == "workers-ai" else "LLM"

    @property
    def url(self) -> str:
        """Where requests go; the model id sits in the path unencoded for Workers AI."""
        if self.provider == "workers-ai":
            return f"{self.base_url}/accounts/{self.account_id}/ai/run/{self.model}"
        return f"{self.base_url}/chat/completions"

    def estimate_cost_tokens(self, input_tokens: int, output_tokens: int) -> float:
        """US dollars that a call of this many tokens would cost (0 when the price is unknown)."""
        return self.pricing.price(input_tokens, output_tokens)[1]

    def estimate_cost(self, messages: list[dict[str, Any]], max_tokens: int | None = None) -> float:
        """An upper-end price of one call: input tokens guessed from the text, output at max_tokens."""
        return self.estimate_cost_tokens(estimate_tokens(messages), max_tokens or self.max_tokens)

    def chat(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
             max_tokens: int | None = None, temperature: float | None = None) -> LLMResponse:
        """One non-streaming turn, with tools if given, finished as `answer.finish_answer` says.

        Raises EmptyAnswer / UnusableAnswer (with their usage) for answers that cannot be used.
        """
        def ask(msgs: list[dict[str, Any]], emit: Callable[[str], None], with_tools: bool) -> LLMResponse:
            return self._complete(msgs, tools=tools if with_tools else None, max_tokens=max_tokens,
                                  temperature=temperature)

        first = ask(messages, _ignore, True)
        return finish_answer(ask, messages, first, max_tokens=self._sent_max_tokens(max_tokens),
                             no_think=self._known_profile().no_think,
                             on_text=_ignore)

    def stream(self, messages: list[dict[str, Any]], *, on_text: Callable[[str], None],
               tools: list[dict[str, Any]] | None = None, max_tokens: int | None = None) -> LLMResponse:
        """One streamed turn; on_text gets each visible piece as it arrives, tool calls come back assembled.

        A model that answers a streamed request with a plain JSON envelope instead of SSE (Workers AI's
        gpt-oss on /ai/run; workers-ai-provider `src/utils.ts` retries those without streaming) is asked
        again without streaming, and from then on never streamed while this process runs. A stream that
        sends no content for `llm.timeout` seconds, or runs past `stream_read.STREAM_DEADLINE_FACTOR` times that, is a
        timeout (asked once more when nothing was shown yet). A stream that ends without finishing raises
        IncompleteStream or ContextLengthExceeded (`stream_read.ended_early`); a stream without usage gets an
        estimated one. The answer is then finished by `answer.finish_answer` (continued when cut off,
        `truncated` when still cut). An exception raised by on_text (a cancelled answer) closes the
        connection, so generation stops.
        """
        def ask(msgs: list[dict[str, Any]], emit: Callable[[str], None], with_tools: bool) -> LLMResponse:
            return self._stream_turn(msgs, emit, tools=tools if with_tools else None, max_tokens=max_tokens)

        first = ask(messages, on_text, True)
        return finish_answer(ask, messages, first, max_tokens=self._sent_max_tokens(max_tokens),
                             no_think=self._known_profile().no_think,
                             on_text=on_text)

    def _stream_turn(self, messages: list[dict[str, Any]], on_text: Callable[[str], None], *,
                     tools: list[dict[str, Any]] | None, max_tokens: int | None) -> LLMResponse:
        """One streamed request (two when it stalled before showing anything)."""
        shown: list[str] = []

        def counted(piece: str) -> None:
            shown.append(piece)
            on_text(piece)

        for attempt in (1, 2):
            try:
                return stream_reply(self, messages, counted, tools=tools, max_tokens=max_tokens)
            except ServiceError as exc:
                if exc.code != "timeout" or shown or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def structured(self, messages: list[dict[str, Any]], schema: type[T], *, max_tokens: int | None = None
                   ) -> tuple[T, list[LLMResponse]]:
        """A reply validated as `schema`, with one repair attempt; returns every reply made (for usage).

        JSON mode is negotiated through the profile (see `mia.agents.llm.json_mode.structured`). Raises
        LLMOutputError (with every reply) when no valid JSON came back.
        """
        def complete(asked: list[dict[str, Any]], response_format: dict[str, Any] | None) -> LLMResponse:
            return self._complete(asked, max_tokens=max_tokens, response_format=response_format)

        return json_mode.structured(complete, self.profile, self._remember, messages, schema,
                                    workers_ai=self.provider == "workers-ai")

    def _complete(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
                  max_tokens: int | None = None, temperature: float | None = None,
                  response_format: dict[str, Any] | None = None) -> LLMResponse:
        body = self._body(messages, max_tokens=max_tokens, temperature=temperature, stream=False, tools=tools)
        if response_format is not None:
            body["response_format"] = response_format
        started = time.monotonic()
        response = self._post(body, stream=False, give_up=json_mode.refusal_response if response_format else None)
        return self._reply(decode_json(response, self.service), started)

    def _body(self, messages: list[dict[str, Any]], *, max_tokens: int | None, temperature: float | None,
              stream: bool, tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        # Always send max_tokens: Workers AI otherwise stops at 256 tokens.
        body: dict[str, Any] = {
            "messages": [string_content(m) for m in messages],
            "max_tokens": self._sent_max_tokens(max_tokens),
            "temperature": self.temperature if temperature is None else temperature,
            "stream": stream,
        }
        if tools:
            body["tools"] = [_openai_tool(tool) for tool in tools]
        if self.provider == "openai":
            body = {"model": self.model, **body}
            if stream:
                body["stream_options"] = {"include_usage": True}
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.session_id and self.provider == "workers-ai":
            headers["x-session-affinity"] = self.session_id  # same replica, so the prompt cache is hit
        return headers

    def _post(self, body: dict[str, Any], *, stream: bool,
              give_up: Callable[[httpx.Response], bool] | None = None) -> httpx.Response:
        """POST through the shared retrying sender, inside the server's gate; errors are classified.

        At most `llm.concurrency` (else the profile's slots) requests are in flight per server in this
        process; a streamed response keeps its place until it is closed. A timed-out generation is sent
        once more at most.
        """
        extra: dict[str, Any] = {} if self.timeout is None else {"timeout": self.timeout}
        gate = profiles.server_gate(self.base_url, self._slots())
        gate.acquire()
        try:
            response = send(self.http, "POST", self.url, service=self.service, limiter=self.limiter,
                            retry=self.retry, stream=stream, json=body, headers=self._headers(), give_up=give_up,
                            timeout_attempts=GENERATION_TIMEOUT_ATTEMPTS, **extra)
        except ServiceError as exc:
            gate.release()
            raise self.classify(exc) from None
        except BaseException:
            gate.release()
            raise
        if not stream:
            gate.release()
            return response
        return _release_on_close(response, gate)

    def _sent_max_tokens(self, max_tokens: int | None) -> int:
        """The max_tokens a request carries: the wanted number (default llm.max_tokens) fitted to the context."""
        return self._known_profile().completion_tokens(max_tokens or self.max_tokens)

    def _known_profile(self) -> ModelProfile:
        """The profile without a discovery request for Workers AI (its table is enough to size a request)."""
        if self._profile is None and self.provider == "workers-ai":
            return profiles.static_profile(self.provider, self.base_url, self.model)
        return self.profile

    def _slots(self) -> int:
        """Requests in flight at once: the setting, Workers AI's default, else the server's discovered slots."""
        if self.concurrency_setting > 0:
            return self.concurrency_setting
        if self.provider == "workers-ai":  # no discovery needed: the account's rate limit is the limit
            return profiles.static_profile(self.provider, self.base_url, self.model).concurrency()
        return self.profile.concurrency()

    def classify(self, exc: ServiceError) -> ServiceError:
        """The one classification of LLM errors: context overflow becomes ContextLengthExceeded (with the
        profile's context size), a timeout names `llm.timeout`, every other error gets the hint that fits."""
        if _is_context_error(exc):
            limit = self.profile.context_tokens
            size = f"{limit:,} tokens, from {self.profile.context_source}" if limit else "unknown"
            return ContextLengthExceeded(
                exc.message,
                f"The prompt does not fit the model's context window ({size}). Lower `llm.max_tokens`, or, if the "
                "server's context is larger, say so with `mia config set llm.context_tokens N`.",
                limit=limit, service=exc.service, status=exc.status, code=exc.code)
        if exc.code == "timeout":
            exc.message = (f"{self.service} did not answer within llm.timeout ({self.timeout or 0:g} s); the model "
                           f"at {self.base_url} is slower than that (it was asked twice).")
            exc.hint = ("Raise the timeout with `mia config set llm.timeout 600`, lower `llm.max_tokens`, or use "
                        "a faster model.")
            return exc
        exc.hint = self._hint_for(exc) or exc.hint
        return exc

    def _hint_for(self, exc: ServiceError) -> str | None:
        code = _code(exc)
        change_model = "choose another with `mia config set llm.model MODEL`"
        if code == 5016:
            return (f"Accept the license of '{self.model}' once (send it the prompt 'agree'), "
                    f"or {change_model}.")
        if code in MODEL_REJECTED_CODES or exc.status in (404, 410):
            where = "Workers AI" if self.provider == "workers-ai" else f"the server at {self.base_url}"
            return f"The model '{self.model}' is not available on {where}; {change_model}."
        if code in ALLOWANCE_CODES:
            return "The Workers AI allowance is used up; wait for the reset (00:00 UTC) or upgrade the plan."
        if exc.status in (401, 403):
            if self.provider == "openai":
                return "Check the key with `mia config set llm.api_key` (you will be prompted)."
            return ("Check the token with `mia config set cloudflare.api_token` (you will be prompted); it "
                    "needs the permissions 'Workers AI - Read' and 'Workers AI - Edit' on this account.")
        return None

    def _reply(self, payload: Any, started: float) -> LLMResponse:
        """Turn a decoded body (Workers AI envelope or plain OpenAI object) into an LLMResponse."""
        result = self._unwrap(payload)
        normal = normalise_result(result)
        if normal is None:
            raise ServiceError(f"{self.service} returned a result of an unknown shape (keys: "
                               f"{', '.join(sorted(result)) or 'none'}).",
                               f"Check that '{self.model}' is a chat model "
                               "(`mia config set llm.model MODEL`).",
                               service=self.service)
        usage = self.pricing.usage(normal.usage, int((time.monotonic() - started) * 1000))
        return LLMResponse(text=normal.text, tool_calls=normal.tool_calls, usage=usage,
                           finish_reason=normal.finish_reason, raw=payload)

    def _unwrap(self, payload: Any) -> dict[str, Any]:
        """The model output inside the Cloudflare envelope; `success: false` or no result is an error."""
        if not isinstance(payload, dict):
            raise ServiceError(f"{self.service} returned JSON that is not an object.", None,
                               service=self.service)
        if self.provider == "openai":
            return payload
        errors = payload.get("errors") if isinstance(payload.get("errors"), list) else []
        result = payload.get("result")
        if payload.get("success") is False or not isinstance(result, dict):
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            code = first.get("code")
            message = first.get("message") or ("no result in the reply" if result is None else "unsuccessful")
            code_part = f" (code {code})" if code is not None else ""
            exc = ServiceError(f"{self.service} answered without a result{code_part}: {message}",
                               "Try again; check `mia doctor` if it keeps happening.", service=self.service, code=code)
            raise self.classify(exc)
        return result


def _ignore(_piece: str) -> None:
    """on_text for a reply nobody watches."""


def _missing_cloudflare(account_id: str | None, api_token: str | None) -> MissingCredentialError:
    """The error for missing Workers AI credentials, naming the settings and environment variables."""
    wanted = (("cloudflare.account_id (CLOUDFLARE_ACCOUNT_ID)", account_id),
              ("cloudflare.api_token (CLOUDFLARE_API_TOKEN)", api_token))
    missing = [name for name, value in wanted if not value]
    return MissingCredentialError(
        f"Workers AI needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not set.",
        "Set them with `mia config set cloudflare.account_id ID` and `mia config set cloudflare.api_token` "
        "(you will be prompted), or export CLOUDFLARE_ACCOUNT_ID / CLOUDFLARE_API_TOKEN.")


def _is_context_error(exc: ServiceError) -> bool:
    """Does this error say the prompt is too long for the model (Workers AI codes, OpenAI/llama.cpp codes)?"""
    if exc.code in CONTEXT_CODES or _code(exc) in CONTEXT_CODES or exc.status == 413:
        return True
    text = exc.message.lower()
    return any(words in text for words in ("context length", "context window", "maximum context", "max context",
                                           "context_length_exceeded", "exceeds the available context"))


def _release_on_close(response: httpx.Response, gate: Any) -> httpx.Response:
    """Release the server's gate once when the streamed response is closed (every caller closes it)."""
    close, released = response.close, threading.Event()

    def close_and_release() -> None:
        try:
            close()
        finally:
            if not released.is_set():
                released.set()
                gate.release()

    response.close = close_and_release  # type: ignore[method-assign]
    return response
