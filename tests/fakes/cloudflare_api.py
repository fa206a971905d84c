"""A loopback fake of the Cloudflare REST API's Workers scripts and Workflows endpoints, with state.

It checks each request's shape the way the real API would fail it (multipart parts, metadata JSON, binding
types, the main module's part name and content type, `instance_id` rather than `id`) and records anything a
test should fail on in `violations`: above all a secret outside a secret_text binding.

Workflows behaviour, as documented (checked 2026-11-30):
- Instance ids are never reusable while the Workflow exists: a terminated, errored or complete instance keeps
  its id and a create with it answers 409 `instance.already_exists` (workers-types `Workflow.create`: "If a
  provided id exists, an error will be thrown"; API_NOTES §2.2 gotcha 3).
- `PATCH …/instances/{id}/status` takes `pause | resume | terminate | restart` (cloudflare-python
  `status_edit_params`; `restart` from the 2025-11-12 changelog and wrangler `instances restart`); restart runs
  the instance again from the start with its original params. Terminating a finished instance is a 409.
- Listing instances pages by cursor: the server picks the page size (`page_size` here, whatever `per_page`
  asks above it), the next page's cursor is `result_info.cursor` ("" on the last page), and `page` is
  deprecated and refused together with `cursor` (wrangler `fetchCursorPage`, workers-sdk "perform pagination
  with cursor to list all instances").
- An older answer carries `result_info {page, per_page}` and no cursor (`paging="page"`); clients then ask
  for page + 1 until a page is empty (cloudflare-python `SyncV4PagePaginationArray`).
- Statuses include `rollingBack` (saga rollbacks, changelog 2026-06-05): a live status.
- R2 bindings take `jurisdiction` eu | fedramp | fedramp-high (cloudflare-go) | us (R2 changelog 2026-08-17).
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.loopback import serve, stop

BINDING_KEYS = {"workflow": {"name", "workflow_name", "class_name"}, "r2_bucket": {"name", "bucket_name"},
                "ai": {"name"}, "secret_text": {"name", "text"}, "plain_text": {"name", "text"}}
INSTANCE_ID = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9-_]*$")
R2_JURISDICTIONS = {"eu", "fedramp", "fedramp-high", "us"}
FINISHED = {"complete", "errored", "terminated"}
STATUS_ACTIONS = {"pause": "paused", "resume": "running", "terminate": "terminated", "restart": "queued"}


@dataclass
class Call:
    """One request the fake answered."""

    method: str
    path: str
    status: int
    body: Any = None


@dataclass
class FakeState:
    scripts: dict[str, dict[str, Any]] = field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    instances: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def envelope(result: Any, status: int = 200) -> tuple[int, dict[str, Any]]:
    return status, {"result": result, "success": True, "errors": [], "messages": []}


def error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}


class FakeCloudflareAPI:
    """`/client/v4/accounts/{id}/workers/scripts/*` and `/workflows/*` on 127.0.0.1."""

    def __init__(self, *, account_id: str = "acct-test", token: str = "cf-test-token-5f2a9c",
                 secrets: tuple[str, ...] = (), page_size: int = 25, paging: str = "cursor") -> None:
        self.account_id, self.token, self.secrets = account_id, token, secrets
        self.page_size = page_size  # the server's choice, whatever per_page asks for
        self.paging = paging  # "cursor", or "page": the older answer with result_info {page, per_page} only
        self.state = FakeState()
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self._faults: deque[tuple[str, int, int, str]] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> FakeCloudflareAPI:
        self._server = serve(self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self._server)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/client/v4"

    def env(self) -> dict[str, str]:
        return {"MIA_CLOUDFLARE_API_BASE_URL": self.base_url, "CLOUDFLARE_ACCOUNT_ID": self.account_id,
                "CLOUDFLARE_API_TOKEN": self.token, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1"}

    # --- test helpers ------------------------------------------------------------------------------------
    def fail_next(self, op: str, status: int, code: int, message: str) -> None:
        """Answer the next request whose `METHOD path` contains `op` with this Cloudflare error."""
        self._faults.append((op, status, code, message))

    def count(self, method: str, contains: str) -> int:
        return sum(1 for c in self.calls if c.method == method and contains in c.path and c.status < 400)

    def set_instance(self, workflow: str, iid: str, **fields: Any) -> None:
        self.state.instances[workflow][iid].update(fields)

    # --- routing -----------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        raw = h.rfile.read(int(h.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            status, body, logged = self._route(h.command, parts.path, parse_qs(parts.query), headers, raw)
            self.calls.append(Call(h.command, parts.path, status, logged))
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               raw: bytes) -> tuple[int, Any, Any]:
        for i, (op, status, code, message) in enumerate(self._faults):
            if op in f"{method} {path}":
                del self._faults[i]
                return (*error(status, code, message), None)
        if headers.get("authorization") != f"Bearer {self.token}":
            return (*error(403, 10000, "Authentication error"), None)
        m = re.fullmatch(r"/client/v4/accounts/([^/]+)/(workers/scripts|workflows)(?:/([^/]+))?(/.*)?", path)
        if not m:
            return (*error(404, 7000, "No route for that URI"), None)
        if m[1] != self.account_id:
            return (*error(404, 7003, "Could not route to /accounts, perhaps your object identifier is invalid?"),
                    None)
        if m[2] == "workers/scripts":
            return self._scripts(method, m[3], headers, raw)
        return self._workflows(method, m[3], m[4] or "", query, raw)

    # --- scripts -----------------------------------------------------------------------------------------
    def _scripts(self, method: str, name: str | None, headers: dict[str, str], raw: bytes) -> tuple[int, Any, Any]:
        if method == "DELETE" and name:
            if self.state.scripts.pop(name, None) is None:
                return (*error(404, 10007, f"workers.api.error.script_not_found: {name}"), None)
            return (*envelope(None), None)
        if method != "PUT" or not name:
            return (*error(405, 10000, "method not allowed"), None)
        problems, upload = self._check_upload(headers, raw)
        if problems:
            self.violations += problems
            return (*error(400, 10021, "; ".join(problems)), upload)
        self.state.scripts[name] = upload
        return (*envelope({"id": name, "etag": str(hash(raw))}), upload)

    def _check_upload(self, headers: dict[str, str], raw: bytes) -> tuple[list[str], dict[str, Any]]:
        ctype = headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return [f"script upload must be multipart/form-data, not {ctype!r}"], {}
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        meta_part = parts.get("metadata")
        if meta_part is None:
            return ["no 'metadata' part"], {}
        metadata = json.loads(meta_part.get_content())
        main = metadata.get("main_module")
        problems = [] if main in parts else [f"no part named like main_module {main!r}"]
        module_part = parts.get(main)
        module = module_part.get_payload(decode=True).decode() if module_part is not None else ""
        if module_part is not None:
            if module_part.get_filename() != main:
                problems.append(f"module part filename {module_part.get_filename()!r} != main_module {main!r}")
            if module_part.get_content_type() != "application/javascript+module":
                problems.append(f"module content type {module_part.get_content_type()!r}")
        if str(metadata.get("compatibility_date", "")) < "2024-10-22":
            problems.append("compatibility_date must be >= 2024-10-22 for Workflows")
        problems += self._check_bindings(metadata.get("bindings", []), module)
        return problems, {"metadata": metadata, "module": module}

    def _check_bindings(self, bindings: list[dict[str, Any]], module: str) -> list[str]:
        problems = []
        for b in bindings:
            needed = BINDING_KEYS.get(b.get("type", ""))
            if needed is None:
                problems.append(f"unknown binding type {b.get('type')!r}")
            elif not needed <= set(b):
                problems.append(f"binding {b.get('name')!r} lacks {sorted(needed - set(b))}")
            elif b.get("type") == "r2_bucket" and "jurisdiction" in b and b["jurisdiction"] not in R2_JURISDICTIONS:
                problems.append(f"unknown R2 jurisdiction {b['jurisdiction']!r}")
        for secret in self.secrets:
            if secret in module:
                problems.append("a secret is in the module text")
            for b in bindings:
                if b.get("type") != "secret_text" and secret in json.dumps(b):
                    problems.append(f"a secret is in the {b.get('type')} binding {b.get('name')!r}")
        return problems

    # --- workflows and instances -------------------------------------------------------------------------
    def _workflows(self, method: str, name: str | None, rest: str, query: dict[str, list[str]],
                   raw: bytes) -> tuple[int, Any, Any]:
        body = json.loads(raw) if raw else None
        if not name:
            return (*envelope([{"name": n, **w} for n, w in self.state.workflows.items()]), None)
        if rest == "":
            return self._workflow(method, name, body)
        if name not in self.state.workflows:
            return (*error(404, 10200, f"workflow.not_found: {name}"), body)
        instances = self.state.instances.setdefault(name, {})
        if rest == "/instances" and method == "POST":
            return self._create(instances, body)
        if rest == "/instances" and method == "GET":
            return self._list(instances, query)
        m = re.fullmatch(r"/instances/([^/]+)(/status)?", rest)
        if not m or m[1] not in instances:
            return (*error(404, 10201, "instance.not_found"), body)
        instance = instances[m[1]]
        if m[2] and method == "PATCH":
            return self._change_status(instance, body)
        return (*envelope({"status": instance["status"], "params": instance["params"], "error": instance["error"],
                           "output": None, "steps": []}), None)

    def _list(self, instances: dict[str, dict[str, Any]], query: dict[str, list[str]]) -> tuple[int, Any, Any]:
        """One page of instances: cursor paging, the server's page size, `page` refused alongside `cursor`."""
        if "page" in query and "cursor" in query:
            return (*error(400, 10001, "page and cursor are mutually exclusive"), None)
        wanted = query.get("status", [None])[0]
        rows = [{"id": i, **v} for i, v in instances.items() if wanted in (None, v["status"])]
        size = min(self.page_size, int(query.get("per_page", [str(self.page_size)])[0]))
        if "page" in query:  # deprecated offset paging, still answered
            start = (int(query["page"][0]) - 1) * size
        else:
            cursor = query.get("cursor", [""])[0]
            start = int(cursor[3:]) if cursor.startswith("cur") and cursor[3:].isdigit() else 0
        page = rows[start:start + size]
        following = f"cur{start + size}" if start + size < len(rows) else ""
        info: dict[str, Any] = {"cursor": following, "per_page": size, "count": len(page)}
        if self.paging == "page":  # cloudflare-python's V4PagePaginationArrayResultInfo: page and per_page
            info = {"page": int(query.get("page", ["1"])[0]), "per_page": size}
        return 200, {"result": page, "success": True, "errors": [], "messages": [], "result_info": info}, None

    @staticmethod
    def _change_status(instance: dict[str, Any], body: Any) -> tuple[int, Any, Any]:
        action = body.get("status") if isinstance(body, dict) else None
        if action not in STATUS_ACTIONS:
            return (*error(400, 10001, f"unsupported status change {body!r}"), body)
        if action in ("pause", "resume", "terminate") and instance["status"] in FINISHED:
            return (*error(409, 10203, f"instance.not_running: the instance is {instance['status']}"), body)
        instance["status"] = "waiting" if action == "restart" else STATUS_ACTIONS[action]
        instance["error"] = None if action == "restart" else instance["error"]
        return (*envelope({"status": instance["status"], "timestamp": "now"}), body)

    def _workflow(self, method: str, name: str, body: Any) -> tuple[int, Any, Any]:
        if method == "DELETE":
            self.state.workflows.pop(name, None)
            self.state.instances.pop(name, None)
            return (*envelope(None), None)
        if method != "PUT":
            if name not in self.state.workflows:
                return (*error(404, 10200, f"workflow.not_found: {name}"), None)
            return (*envelope({"id": name, "name": name, **self.state.workflows[name]}), None)
        if not isinstance(body, dict) or set(body) != {"class_name", "script_name"}:
            return (*error(400, 10001, f"expected class_name and script_name, got {body!r}"), body)
        script = self.state.scripts.get(body["script_name"])
        if script is None or f"export class {body['class_name']} " not in script["module"]:
            return (*error(400, 10001, "the script does not export that class"), body)
        self.state.workflows[name] = dict(body)
        return (*envelope({"id": name, "name": name, **body}), body)

    def _create(self, instances: dict[str, dict[str, Any]], body: Any) -> tuple[int, Any, Any]:
        if not isinstance(body, dict) or "id" in body:
            self.violations.append(f"instance create body {body!r} (REST wants instance_id, not id)")
            return (*error(400, 10001, "unknown field 'id'"), body)
        iid = body.get("instance_id")
        if not isinstance(iid, str) or len(iid) > 100 or not INSTANCE_ID.match(iid):
            self.violations.append(f"bad instance_id {iid!r}")
            return (*error(400, 10001, f"invalid instance_id {iid!r}"), body)
        if any(secret in json.dumps(body) for secret in self.secrets):
            self.violations.append(f"a secret is in the params of instance {iid}")
        params = body.get("params")
        params = json.loads(params) if isinstance(params, str) else params
        if iid in instances:
            return (*error(409, 10202, "instance.already_exists"), body)
        instances[iid] = {"status": "waiting", "params": params, "error": None}
        return (*envelope({"id": iid, "status": "queued", "version_id": "v1", "workflow_id": "wf"}, 201), body)
