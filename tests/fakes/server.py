"""A loopback fake of every remote service mia's research agent uses, speaking their real wire shapes."""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fakes import llm_dialects, shapes
from fakes.corpus import Corpus
from fakes.local_llm import LocalServer, model_schema
from fakes.shapes import Reply, json_reply

DEFAULT_MODELS = frozenset({
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "@cf/meta/llama-4-scout-17b-16e-instruct",
    "@cf/qwen/qwen3-30b-a3b-fp8", "@cf/openai/gpt-oss-120b", "@hf/nousresearch/hermes-2-pro-mistral-7b",
})
# Workers AI rerankers, answered in the schema of Cloudflare's model catalog (cloudflare/cloudflare-docs,
# src/content/workers-ai-models/bge-reranker-base.json): input {"query", "contexts": [{"text"}], "top_k"?}
# (query and contexts required), output {"response": [{"id": index into contexts, "score": number}]}.
RERANKER_MODELS = frozenset({"@cf/baai/bge-reranker-base"})
SERVICE_PREFIXES = (("/client/v4/", "workers-ai"), ("/openai/", "openai"), ("/perplexity/", "perplexity"),
                    ("/eutils/", "pubmed"), ("/europepmc/", "europepmc"), ("/ctgov/api/v2/", "trials"))
LLM_SERVICES = ("workers-ai", "openai")
SEARCH_SERVICES = ("perplexity", "pubmed", "europepmc", "trials")
FAKE_REPLY = "Fake reply from the loopback model — nothing more to add."


@dataclass
class LLMReply:
    """What the fake model says: text, or a parsed JSON object (JSON mode), plus tool calls and usage."""

    text: str = ""
    data: Any = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name": str, "arguments": {...}}
    prompt_tokens: int = 100
    completion_tokens: int = 50
    finish_reason: str | None = None  # "length": cut off at max_tokens (completion_tokens becomes max_tokens)


LLMResponder = Callable[[dict[str, Any], str], LLMReply]


def echo_llm(body: dict[str, Any], model: str) -> LLMReply:
    """The default responder: always the same short text."""
    return LLMReply(text=FAKE_REPLY)


class ScriptedLLMExhausted(RuntimeError):
    """A ScriptedLLM was asked for more replies than it was given."""


class ScriptedLLM:
    """A responder that hands out queued replies in order and remembers every request it saw."""

    def __init__(self, replies: Iterable[LLMReply | str] = ()) -> None:
        self._queue: deque[LLMReply] = deque()
        self._lock = threading.Lock()
        self.calls: list[tuple[dict[str, Any], str]] = []
        self.push(*replies)

    def push(self, *replies: LLMReply | str) -> None:
        """Queue more replies; a plain string becomes LLMReply(text=...)."""
        with self._lock:
            self._queue.extend(r if isinstance(r, LLMReply) else LLMReply(text=r) for r in replies)

    @property
    def remaining(self) -> int:
        """How many replies are still queued."""
        return len(self._queue)

    def __call__(self, body: dict[str, Any], model: str) -> LLMReply:
        with self._lock:
            self.calls.append((body, model))
            if not self._queue:
                raise ScriptedLLMExhausted(
                    f"ScriptedLLM has no replies left (call {len(self.calls)}, model {model!r}); "
                    "push() more replies for this test")
            return self._queue.popleft()


def rerank_scores(query: str, texts: list[str]) -> list[float]:
    """The fake reranker's relevance of each text to `query`, in [0, 1] like the sigmoid-mapped scores the
    catalog describes: the share of the query's words (4+ letters) the text contains, ties broken towards
    shorter texts; deterministic, and unlike BM25's order whenever rare words are not what matters."""
    words = {w for w in re.findall(r"[a-z0-9]{4,}", query.lower())}
    out = []
    for text in texts:
        have = set(re.findall(r"[a-z0-9]{4,}", text.lower()))
        out.append(round(len(words & have) / max(len(words), 1) - len(text) / 1e7, 6))
    return out


@dataclass
class RecordedRequest:
    """One request the fake answered, with the status it answered with."""

    service: str
    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    status: int
    headers: dict[str, str]
    started: float = 0.0
    finished: float = 0.0


@dataclass
class Incoming:
    """A parsed request handed to the route functions."""

    service: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    json: Any
    json_error: str | None

    def arg(self, name: str, default: str = "") -> str:
        """The first value of a query parameter."""
        return self.query.get(name, [default])[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 overflows under a benchmark's bursts (SYN retries cost 1 s)
    fake: FakeServices

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a cancelled or timed-out stream) is no error of the fake's; others are."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_open_connections(self) -> None:
        """Hang up on kept-alive clients so no handler thread outlives the server."""
        with self.connections_lock:
            for conn in self.open_connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.open_connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # so the deliberately small stream writes leave one by one
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _any(self) -> None:
        self.server.fake._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is FakeServices.requests."""


class FakeServices:
    """Workers AI, an OpenAI-compatible server, Perplexity Search, PubMed, Europe PMC and CT.gov on 127.0.0.1."""

    def __init__(self, *, corpus: Corpus | None = None, llm: LLMResponder | None = None,
                 latency: dict[str, float] | None = None, fault_rate: float = 0.0,
                 faults: tuple[int, ...] = (429, 503), seed: int = 0, llm_shape: str = "legacy",
                 account_id: str = "acct-test", cf_token: str = "cf-test-token-5f2a9c",
                 pplx_key: str = "pplx-test-key-81bd", models: frozenset[str] = DEFAULT_MODELS,
                 pplx_fields: frozenset[str] = shapes.PPLX_SEARCH_FIELDS, port: int = 0,
                 stream_pause: float = 0.0005, unstreamed_models: frozenset[str] = llm_dialects.UNSTREAMED_MODELS,
                 native_tool_stream: str = "pieces", ncbi_rate_limit: bool = False, stream_fault: str = "",
                 context_limit: int = 0, local: LocalServer | None = None,
                 slow_queries: dict[tuple[str, str], float] | None = None, reranker_fault: int = 0) -> None:
        if llm_shape not in ("legacy", "openai", "auto"):
            raise ValueError(f"llm_shape must be 'legacy', 'openai' or 'auto', not {llm_shape!r}")
        self.corpus = corpus if corpus is not None else Corpus()
        self.llm: LLMResponder = llm or echo_llm
        self.latency = dict(latency or {})
        self.fault_rate, self.faults, self.llm_shape = fault_rate, tuple(faults), llm_shape
        self.account_id, self.cf_token, self.pplx_key = account_id, cf_token, pplx_key
        self.models, self.pplx_fields, self.port, self.stream_pause = models, pplx_fields, port, stream_pause
        self.unstreamed_models, self.native_tool_stream = unstreamed_models, native_tool_stream  # llm_dialects
        # NCBI E-utilities: more than 3 requests/s (10 with api_key) from one address get HTTP 429 with
        # {"error":"API rate limit exceeded",...} (NCBI usage guidelines; support.nlm.nih.gov KA-05318).
        self.ncbi_rate_limit = ncbi_rate_limit
        self.stream_fault, self.context_limit = stream_fault, context_limit  # llm_dialects: every stream / prompt
        self.stream_faults: deque[str] = deque()  # llm_dialects: faults for the next streams, one each
        self.local = local  # the /openai/ route speaks this local server's dialect (fakes.local_llm)
        # (service, words) -> extra seconds: a search whose query contains the words answers that much later, as
        # one slow source does for one sub-question (the pipeline per sub-question must not wait for it).
        self.slow_queries = dict(slow_queries or {})
        self.reranker_fault = reranker_fault  # an HTTP status every reranker call answers with (0: none)
        self.requests: list[RecordedRequest] = []
        self.esearch_backend_errors = 0  # ESearch answers 200 with {"esearchresult": {"ERROR": ...}} this often
        self.errors: list[str] = []  # exceptions raised by the LLM responder
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._forced: dict[str, deque[int]] = defaultdict(deque)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> FakeServices:
        """Bind 127.0.0.1 (port 0 = any free port) and serve in a daemon thread."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", self.port))
            self._server.fake = self
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"fake-services:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_open_connections()
            self._server = None

    def __enter__(self) -> FakeServices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123."""
        if self._server is None:
            raise RuntimeError("FakeServices is not started; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point mia at this server."""
        u = self.url
        return {
            "MIA_CLOUDFLARE_API_BASE_URL": f"{u}/client/v4", "CLOUDFLARE_ACCOUNT_ID": self.account_id,
            "CLOUDFLARE_API_TOKEN": self.cf_token, "MIA_PERPLEXITY_BASE_URL": f"{u}/perplexity",
            "PERPLEXITY_API_KEY": self.pplx_key, "MIA_PUBMED_BASE_URL": f"{u}/eutils",
            "MIA_EUROPEPMC_BASE_URL": f"{u}/europepmc", "MIA_CLINICALTRIALS_BASE_URL": f"{u}/ctgov/api/v2",
            "MIA_LLM_BASE_URL": f"{u}/openai/v1", "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    # -- log and faults -------------------------------------------------------------------------------
    def count(self, service: str, *, status: int | None = None, path_contains: str | None = None) -> int:
        """How many recorded requests match."""
        with self._lock:
            return sum(1 for r in self.requests if r.service == service
                       and (status is None or r.status == status)
                       and (path_contains is None or path_contains in r.path))

    def reset_log(self) -> None:
        """Forget recorded requests and responder errors."""
        with self._lock:
            self.requests.clear()
            self.errors.clear()

    def _take(self, counter: str) -> bool:
        """Use up one of a misbehaviour counter (e.g. `esearch_backend_errors`); False when none is left."""
        with self._lock:
            left = getattr(self, counter, 0)
            if left > 0:
                setattr(self, counter, left - 1)
            return left > 0

    def fail_next(self, service: str, *statuses: int) -> None:
        """Answer the next requests to `service` with these fault statuses, in order."""
        with self._lock:
            self._forced[service].extend(statuses)

    def _pick_fault(self, service: str) -> int | None:
        with self._lock:
            if self._forced[service]:
                return self._forced[service].popleft()
            if self.fault_rate > 0 and self.faults and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.faults)
        return None

    def _slowness(self, req: Incoming) -> float:
        """The extra delay `slow_queries` gives this request (its query parameters or JSON body hold the words)."""
        if not self.slow_queries:
            return 0.0
        text = " ".join(v for values in req.query.values() for v in values) + " " + json.dumps(req.json or "")
        text = " ".join(text.replace("+", " ").split()).lower()
        return max((extra for (service, words), extra in self.slow_queries.items()
                    if service == req.service and words.lower() in text), default=0.0)

    def _over_ncbi_limit(self, req: Incoming, started: float) -> bool:
        """Whether this E-utilities request is one too many in the last second (only with ncbi_rate_limit)."""
        if not self.ncbi_rate_limit:
            return False
        limit = 10 if req.arg("api_key") else 3
        with self._lock:
            recent = sum(1 for r in self.requests if r.service == "pubmed" and r.status != 429
                         and started - r.started < 1.0)
        return recent >= limit

    # -- request handling ---------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        req = self._parse(h)
        if req.service != "unknown":
            time.sleep(self.latency.get(req.service, 0.0) + self._slowness(req))
        # Faults hit service calls, not the model catalog that mia's model profile reads once beforehand.
        catalog = "/ai/models/" in req.path or req.path in ("/openai/v1/models", "/openai/props", "/openai/api/show")
        fault = self._pick_fault(req.service) if req.service != "unknown" and not catalog else None
        if fault is None and req.service == "pubmed" and self._over_ncbi_limit(req, started):
            fault = 429
        reply = shapes.fault_reply(req.service, fault) if fault else self._route(req)
        record = RecordedRequest(req.service, req.method, req.path, req.query, req.json, reply.status,
                                 req.headers, started, time.monotonic())
        with self._lock:  # recorded before answering, so a client never sees an answer that is not yet logged
            self.requests.append(record)
        try:
            self._send(h, reply)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    @staticmethod
    def _parse(h: BaseHTTPRequestHandler) -> Incoming:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in h.headers.items()}
        raw = h.rfile.read(int(headers.get("content-length") or 0))
        body: Any = None
        error = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                error = str(exc)
        if error and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            for key, values in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items():
                query.setdefault(key, []).extend(values)  # E-utilities take long id lists as a POST form
        service = next((name for prefix, name in SERVICE_PREFIXES if path.startswith(prefix)), "unknown")
        return Incoming(service, h.command, path, query, headers, raw, body, error)

    def _route(self, req: Incoming) -> Reply:
        if req.service == "workers-ai":
            return self._workers_ai(req)
        if req.service == "openai":
            return self._openai(req)
        if req.service == "perplexity":
            return shapes.perplexity_search(req, self.corpus, self.pplx_key, self.pplx_fields)
        if req.service == "pubmed":
            if req.path.endswith("esearch.fcgi") and self._take("esearch_backend_errors"):
                return shapes.esearch_backend_error()
            return shapes.pubmed(req, self.corpus)
        if req.service == "europepmc":
            return shapes.europepmc(req, self.corpus)
        if req.service == "trials":
            return shapes.trials(req, self.corpus)
        return json_reply(404, {"error": f"the fake has no route for {req.method} {req.path}"})

    def _workers_ai(self, req: Incoming) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.cf_token}":
            return shapes.cf_error(401, "Authentication error", 10000)
        if req.method == "GET" and req.path == f"/client/v4/accounts/{self.account_id}/ai/models/search":
            models = [{"name": name, "task": {"name": "Text Generation"}} for name in sorted(self.models)]
            return json_reply(200, {"result": models, "success": True, "errors": [], "messages": []})
        if req.method == "GET" and req.path == f"/client/v4/accounts/{self.account_id}/ai/models/schema":
            model = req.arg("model")
            if model not in self.models:
                return shapes.cf_error(400, f"AiError: No such model {model} or task", 5007)
            # the model's documented schema (cloudflare-docs model JSONs), whatever shape llm_shape answers in
            schema = model_schema(not re.search(r"llama|hermes|mistral", model))
            return json_reply(200, {"result": schema, "success": True, "errors": [], "messages": []})
        m = re.fullmatch(r"/client/v4/accounts/([^/]+)/ai/(?:run/(.+)|(v1/chat/completions))", req.path)
        if not m or req.method != "POST":
            return shapes.cf_error(404, "No route for that URI", 7000)
        if m[1] != self.account_id:
            return shapes.cf_error(404, f"Could not route to /client/v4/accounts/{m[1]}/ai/run, perhaps your"
                                        " object identifier is invalid?", 7003)
        if req.json_error or not isinstance(req.json, dict):
            return shapes.cf_error(400, f"AiError: Bad input: body is not a JSON object ({req.json_error})", 5004)
        model = m[2] or str(req.json.get("model", ""))
        if model in RERANKER_MODELS:
            return self._rerank(req.json)
        if model not in self.models:
            return shapes.cf_error(400, f"AiError: No such model {model} or task", 5007)
        if m[2] and "messages" not in req.json and "prompt" not in req.json:
            return shapes.cf_error(400, "AiError: Bad input: Error: oneOf at '/' not met, 0 matches required", 5004)
        refused = llm_dialects.null_content_error(req.json) if m[2] else None
        if refused is not None:
            return refused
        if m[2] and req.json.get("stream") and model in self.unstreamed_models:
            return llm_dialects.unstreamed_answer()
        stream = bool(req.json.get("stream"))
        overflow = llm_dialects.context_overflow(self.context_limit, req.json, "workers-ai", stream)
        if overflow is not None:
            return overflow
        reply = self._ask_llm(req.json, model)
        if reply is None:
            return shapes.cf_error(500, "AiError: the fake's LLM responder raised; see FakeServices.errors", 5000)
        reply = llm_dialects.honour_max_tokens(reply, req.json)
        if m[3]:  # the OpenAI-compatible endpoint under /ai/v1: plain OpenAI, no envelope
            return self._openai_answer(reply, model, stream, req.json)
        openai_shape = self._openai_shape(model)
        if stream:
            frames = (shapes.openai_frames(reply, model, cf_final=True) if openai_shape
                      else shapes.legacy_frames(reply, self.native_tool_stream))
            return llm_dialects.misbehave(self, Reply(200, content_type="text/event-stream", frames=frames))
        result = shapes.openai_completion(reply, model) if openai_shape else shapes.legacy_result(reply)
        return json_reply(200, {"result": result, "success": True, "errors": [], "messages": []})

    def _rerank(self, body: dict[str, Any]) -> Reply:
        """A reranker's answer (schema in RERANKER_MODELS' comment); scores from `rerank_scores`."""
        if self.reranker_fault:
            return shapes.cf_error(self.reranker_fault, "AiError: the reranker is unavailable (fake fault)", 3040)
        query, contexts = body.get("query"), body.get("contexts")
        if not isinstance(query, str) or not query or not isinstance(contexts, list) or not all(
                isinstance(c, dict) and isinstance(c.get("text"), str) and c["text"] for c in contexts):
            return shapes.cf_error(400, "AiError: Bad input: query and contexts[].text are required", 5004)
        ranked = sorted(enumerate(rerank_scores(query, [c["text"] for c in contexts])), key=lambda kv: -kv[1])
        top_k = body.get("top_k")
        if isinstance(top_k, int) and top_k >= 1:
            ranked = ranked[:top_k]
        response = [{"id": index, "score": score} for index, score in ranked]
        return json_reply(200, {"result": {"response": response}, "success": True, "errors": [], "messages": []})

    def _openai_shape(self, model: str) -> bool:
        return self.llm_shape == "openai" or (self.llm_shape == "auto" and not re.search(r"llama|hermes|mistral",
                                                                                          model))

    def _openai(self, req: Incoming) -> Reply:
        if self.local is not None and req.json_error is None:
            return self.local.answer(req.method, req.path, req.json, self._ask_llm, self._openai_answer)
        if req.path == "/openai/v1/models" and req.method == "GET":
            return json_reply(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in sorted(self.models)]})
        if req.path != "/openai/v1/chat/completions" or req.method != "POST":
            return shapes.openai_error(404, f"Unknown request URL: {req.method} {req.path}", "invalid_request_error")
        if req.json_error or not isinstance(req.json, dict) or not req.json.get("model"):
            return shapes.openai_error(400, "you must provide a model parameter and a JSON body",
                                       "invalid_request_error")
        model, stream = str(req.json["model"]), bool(req.json.get("stream"))
        overflow = llm_dialects.context_overflow(self.context_limit, req.json, "openai", stream)
        if overflow is not None:
            return overflow
        reply = self._ask_llm(req.json, model)
        if reply is None:
            return shapes.openai_error(500, "the fake's LLM responder raised; see FakeServices.errors",
                                       "server_error")
        return self._openai_answer(llm_dialects.honour_max_tokens(reply, req.json), model, stream, req.json)

    def _openai_answer(self, reply: LLMReply, model: str, stream: bool, body: dict[str, Any]) -> Reply:
        if not stream:
            return json_reply(200, shapes.openai_completion(reply, model))
        options = body.get("stream_options") or {}
        frames = shapes.openai_frames(reply, model, cf_final=False, include_usage=bool(options.get("include_usage")))
        return llm_dialects.misbehave(self, Reply(200, content_type="text/event-stream", frames=frames))

    def _ask_llm(self, body: dict[str, Any], model: str) -> LLMReply | None:
        try:
            return self.llm(body, model)
        except Exception as exc:  # reported to the client as a 500 and kept for the test to assert on
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stderr)
            return None

    def _send(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            h.send_header(name, value)
        if reply.frames is None:
            h.send_header("Content-Length", str(len(reply.body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(reply.body)
            return
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        for group in llm_dialects.paced(reply.frames, reply.pauses):
            for piece in shapes.awkward_pieces(group):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                h.wfile.flush()
                if self.stream_pause:
                    time.sleep(self.stream_pause)
        if reply.abort:  # the server gave up mid-body: the client sees the connection close
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()
