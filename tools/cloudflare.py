"""The Cloudflare REST API calls `mia triggers deploy` needs: Worker scripts, Workflows and their instances.

Every call goes through `settings.cloudflare.api_base_url` with `send` (retries, backoff). Errors carry the
API's code and message and name the token permission the operation needs.

Documentation followed (checked 2026-11-30): `cloudflare/cloudflare-python` (workflows/instances resources),
`cloudflare/workers-sdk` (wrangler `workflows instances list` pages with `fetchCursorPage`: `result_info.cursor`,
`page` removed; `instances restart` is `PATCH …/status {"status": "restart"}`), `cloudflare/cloudflare-docs`
changelog (2025-11-12 instance restarts; 2026-06-05 saga rollbacks, whose instances report `rollingBack`).
A 409 is a conflict, never retried: retrying cannot change the answer.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from mia.errors import MissingCredentialError, ServiceError
from mia.settings import Settings
from mia.tools.http import RetryPolicy, decode_json, send

SERVICE = "Cloudflare API"
SCRIPTS_EDIT = "Workers Scripts Edit"
SCRIPTS_READ = "Workers Scripts Read"
R2_EDIT = "Workers R2 Storage Edit"
AI_READ = "Workers AI Read"
AUTH_CODES = {9106, 9109, 10000, 10001}
ACCOUNT_CODES = {7003, 10007}
ALREADY_EXISTS = re.compile(r"already[ _.-]?exists|duplicate", re.IGNORECASE)
# Statuses of an instance that may still run (and must be terminated to stop it): the SDK's list plus
# `rollingBack` (saga rollbacks, Workflows changelog 2026-06-05).
LIVE_STATUSES = ("queued", "running", "paused", "waiting", "waitingForPause", "rollingBack")
DONE_STATUSES = ("complete", "errored", "terminated")
NOT_RETRIED = frozenset({409})  # a conflict (e.g. instance.already_exists) stays one however often it is sent
MAX_PAGES = 10_000  # a guard against a server that hands back the same cursor forever


class CloudflareError(ServiceError):
    """The Cloudflare API refused an operation; `permission` is the token permission it needs."""

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None,
                 code: str | int | None = None, permission: str = "", retryable: bool = False) -> None:
        super().__init__(message, hint, service=SERVICE, status=status, code=code, retryable=retryable)
        self.permission = permission


def _permission_for(what: str, message: str, default: str) -> str:
    """The permission to name: R2 or Workers AI when the API's message is about them."""
    lowered = message.lower()
    if "r2" in lowered or "bucket" in lowered:
        return R2_EDIT
    if re.search(r"\bai\b|workers ai", lowered):
        return AI_READ
    return default


def _translate(exc: ServiceError, what: str, default_permission: str, account_id: str) -> CloudflareError:
    """A ServiceError from `send` as a CloudflareError naming the code, message and permission."""
    raw = exc.message.split(": ", 1)[-1]
    code = exc.code
    permission = _permission_for(what, raw, default_permission)
    code_part = f" (code {code})" if code is not None else ""
    message = f"Cloudflare API answered HTTP {exc.status}{code_part}: {raw} — while {what}."
    try:
        numeric = int(code) if code is not None else None
    except (TypeError, ValueError):
        numeric = None
    if numeric in ACCOUNT_CODES or (exc.status == 404 and "account" in raw.lower()):
        hint = (f"Check cloudflare.account_id (now '{account_id}') with `mia config show`; the token must "
                f"also have '{permission}' on that account.")
    elif exc.status in (401, 403) or numeric in AUTH_CODES:
        message += f" The API token needs the permission '{permission}'."
        others = ", ".join(p for p in (SCRIPTS_EDIT, R2_EDIT, AI_READ) if p != permission)
        hint = (f"Create a token with Account › {permission} (deploying also needs {others}) and store it with "
                "`mia config set cloudflare.api_token` (you will be prompted).")
    elif exc.status == 429 or "limit" in raw.lower():
        hint = "A Cloudflare limit was reached (API_NOTES §2.3); wait and deploy again, or deploy fewer agents."
    else:
        hint = exc.hint or "Check `mia doctor` and the Cloudflare dashboard."
    return CloudflareError(message, hint, status=exc.status, code=code, permission=permission,
                           retryable=exc.retryable)


class CloudflareAPI:
    """A thin client of the account's Workers scripts and Workflows endpoints."""

    def __init__(self, *, http: httpx.Client, base_url: str, account_id: str, api_token: str,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.http = http
        self.base = f"{base_url.rstrip('/')}/accounts/{account_id}"
        self.account_id = account_id
        self._token = api_token
        retry = retry or RetryPolicy(attempts=5)
        self.retry = replace(retry, statuses=retry.statuses - NOT_RETRIED)
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"CloudflareAPI(base={self.base!r})"  # never the token

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.Client) -> CloudflareAPI:
        """The client for the configured account; missing settings raise MissingCredentialError."""
        require_cloud_settings(settings)
        assert settings.cloudflare.account_id is not None
        return cls(http=http, base_url=settings.cloudflare.api_base_url, account_id=settings.cloudflare.account_id,
                   api_token=settings.secret("cloudflare.api_token") or "")

    def _call(self, method: str, path: str, *, what: str, permission: str = SCRIPTS_EDIT,
              retry: RetryPolicy | None = None, **kwargs: Any) -> Any:
        return self._envelope(method, path, what=what, permission=permission, retry=retry, **kwargs).get("result")

    def _envelope(self, method: str, path: str, *, what: str, permission: str = SCRIPTS_EDIT,
                  retry: RetryPolicy | None = None, **kwargs: Any) -> dict[str, Any]:
        """The whole `{result, result_info, success, errors}` envelope of one call."""
        headers = {"Authorization": f"Bearer {self._token}", **kwargs.pop("headers", {})}
        try:
            response = send(self.http, method, f"{self.base}{path}", service=SERVICE, retry=retry or self.retry,
                            sleep=self.sleep, headers=headers, **kwargs)
        except ServiceError as exc:
            raise _translate(exc, what, permission, self.account_id) from None
        body = decode_json(response, SERVICE)
        if isinstance(body, dict) and body.get("success") is False:
            errors = body.get("errors") or [{}]
            raise CloudflareError(f"Cloudflare API refused {what}: {errors[0].get('message', 'no message')}",
                                  None, status=response.status_code, code=errors[0].get("code"),
                                  permission=permission)
        return body if isinstance(body, dict) else {"result": body}

    # --- scripts and workflows ------------------------------------------------------------------------------

    def upload_script(self, name: str, metadata: dict[str, Any], module: str) -> Any:
        """PUT the Worker as multipart: `metadata` JSON plus the main module (application/javascript+module)."""
        main = metadata["main_module"]
        files = {"metadata": (None, json.dumps(metadata), "application/json"),
                 main: (main, module.encode("utf-8"), "application/javascript+module")}
        return self._call("PUT", f"/workers/scripts/{name}", files=files,
                          what=f"uploading the Worker script '{name}'")

    def put_workflow(self, name: str, *, class_name: str, script_name: str) -> Any:
        return self._call("PUT", f"/workflows/{name}", json={"class_name": class_name, "script_name": script_name},
                          what=f"registering the Workflow '{name}'")

    def workflow_exists(self, name: str) -> bool:
        """Whether the Workflow is registered (someone may have deleted it in the dashboard)."""
        try:
            self._call("GET", f"/workflows/{name}", permission=SCRIPTS_READ, what=f"reading the Workflow '{name}'")
        except CloudflareError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete_workflow(self, name: str) -> None:
        self._ignore_missing(lambda: self._call("DELETE", f"/workflows/{name}",
                                                what=f"deleting the Workflow '{name}'"))

    def delete_script(self, name: str) -> None:
        self._ignore_missing(lambda: self._call("DELETE", f"/workers/scripts/{name}",
                                                what=f"deleting the Worker script '{name}'"))

    @staticmethod
    def _ignore_missing(action: Callable[[], Any]) -> None:
        try:
            action()
        except CloudflareError as exc:
            if exc.status != 404:
                raise

    # --- instances ------------------------------------------------------------------------------------------

    def create_instance(self, workflow: str, instance_id: str, params: dict[str, Any]) -> bool:
        """Create an instance with `instance_id` (REST takes `instance_id`, not `id`); False if the id is taken.

        Instance ids are never reusable while the Workflow exists: a terminated or finished instance keeps its id
        and a create answers 409 `instance.already_exists` (workers-types: "If a provided id exists, an error
        will be thrown"). False therefore means "nothing was created": the caller must look at the existing
        instance (`get_instance`) before counting it as its own. A 409 is never retried; 429 and 5xx are.
        """
        body: dict[str, Any] = {"instance_id": instance_id, "params": params}
        policy = RetryPolicy(attempts=1, statuses=self.retry.statuses)
        for attempt in range(1, self.retry.attempts + 1):
            try:
                self._call("POST", f"/workflows/{workflow}/instances", json=body, retry=policy,
                           what=f"creating the instance '{instance_id}'")
                return True
            except CloudflareError as exc:
                if exc.status == 409 or ALREADY_EXISTS.search(exc.message):
                    return False
                if exc.status == 400 and "params" in exc.message.lower() and not isinstance(body["params"], str):
                    body["params"] = json.dumps(params)  # the newest spec types params as a JSON string
                    continue
                if not exc.retryable or attempt == self.retry.attempts:
                    raise
                self.sleep(self.retry.delay(attempt, None))
        raise AssertionError("unreachable")  # pragma: no cover

    def get_instance(self, workflow: str, instance_id: str) -> dict[str, Any] | None:
        """The instance's status record, or None when it does not exist."""
        try:
            result = self._call("GET", f"/workflows/{workflow}/instances/{instance_id}", permission=SCRIPTS_READ,
                                what=f"reading the instance '{instance_id}'")
        except CloudflareError as exc:
            if exc.status == 404:
                return None
            raise
        return dict(result or {})

    def list_instances(self, workflow: str, status: str) -> list[dict[str, Any]]:
        """Every instance of the Workflow in one status, following `result_info.cursor` until it is empty.

        The API pages by cursor; `page` is deprecated and may not be sent with `cursor`, and the page size is
        the server's to choose, so a short page says nothing about the end (wrangler's `fetchCursorPage`).
        A server that answers without a cursor is paged as cloudflare-python's V4PagePaginationArray does:
        `page` + 1 until a page comes back empty (or repeats itself).
        """
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        cursor: str | None = None
        page: int | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"status": status}
            if cursor:
                params["cursor"] = cursor
            elif page:
                params["page"] = page
            body = self._envelope("GET", f"/workflows/{workflow}/instances", permission=SCRIPTS_READ, params=params,
                                  what=f"listing the instances of '{workflow}'")
            batch = [item for item in body.get("result") or [] if isinstance(item, dict)]
            fresh = [item for item in batch if _instance_key(item) not in seen]
            seen.update(_instance_key(item) for item in fresh)
            found += fresh
            raw_info = body.get("result_info")
            info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
            if "cursor" in info:
                following = info.get("cursor")
                if not following or following == cursor:
                    return found
                cursor = str(following)
            elif not fresh:
                return found
            else:
                page = (page or 1) + 1
        return found

    def restart_instance(self, workflow: str, instance_id: str) -> None:
        """Run an existing instance again from the start with its own params (`PATCH …/status restart`)."""
        self._call("PATCH", f"/workflows/{workflow}/instances/{instance_id}/status", json={"status": "restart"},
                   what=f"restarting the instance '{instance_id}'")

    def terminate_instance(self, workflow: str, instance_id: str) -> None:
        """Terminate one instance; one that is already gone or finished is fine."""
        try:
            self._call("PATCH", f"/workflows/{workflow}/instances/{instance_id}/status", json={"status": "terminate"},
                       what=f"terminating the instance '{instance_id}'")
        except CloudflareError as exc:
            if exc.status not in (404, 409) and not ALREADY_EXISTS.search(exc.message):
                raise


def _instance_key(item: dict[str, Any]) -> str:
    return str(item.get("id") or item.get("instance_id") or json.dumps(item, sort_keys=True))


# How each setting cloud triggers need is set: the command, and the environment variable.
SET_CLOUD_SETTING = {"cloudflare.account_id": ("mia config set cloudflare.account_id ID", "CLOUDFLARE_ACCOUNT_ID"),
                     "cloudflare.api_token": ("mia config set cloudflare.api_token", "CLOUDFLARE_API_TOKEN"),
                     "r2.bucket": ("mia config set r2.bucket NAME", "MIA_R2_BUCKET")}


def require_cloud_settings(settings: Settings) -> None:
    """Deploying needs the account, the token and the R2 bucket; say which are missing and how to set them."""
    missing = [key for key, value in (("cloudflare.account_id", settings.cloudflare.account_id),
                                      ("cloudflare.api_token", settings.secret("cloudflare.api_token")),
                                      ("r2.bucket", settings.r2.bucket)) if not value]
    if missing:
        one = len(missing) == 1
        steps = [f"`{SET_CLOUD_SETTING[k][0]}`" + (" (prompted for, kept in secrets.toml)" if k.endswith("token")
                                                  else "") for k in missing]
        raise MissingCredentialError(
            f"Cloud triggers need {' and '.join(missing)}, and {'it is' if one else 'they are'} not set.",
            f"Set {'it' if one else 'them'}: {'; '.join(steps)}{', or' if one else '; or'} export "
            f"{' / '.join(SET_CLOUD_SETTING[k][1] for k in missing)}.")

