"""The R2 (S3 API) client, built from mia's own settings and never from the AWS environment or ~/.aws."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mia.errors import MiaError, MissingCredentialError, ServiceError
from mia.settings import Settings

S3Client = Any  # a boto3 S3 client; typed loosely so boto3 is imported only when a command needs it
MAX_ATTEMPTS = 5
PROBE_NAME = ".mia-doctor-probe"
SET_HINT = ("Set them with `mia config set r2.bucket NAME`, `mia config set r2.access_key_id`, "
            "`mia config set r2.secret_access_key` and `mia config set cloudflare.account_id ID` "
            "(or r2.endpoint_url), or through the environment variables.")
# Point every file botocore might read for a profile or credentials at nothing: a developer's AWS_PROFILE,
# AWS_CONFIG_FILE or ~/.aws must never decide which account mia writes to.
_NO_AWS_FILES = {
    "profile": (None, None, None, None),
    "config_file": (None, None, os.devnull, None),
    "credentials_file": (None, None, os.devnull, None),
}


@dataclass(frozen=True)
class Remote:
    """Where the workspace is mirrored: endpoint, bucket and key prefix ('' or ending in '/')."""

    endpoint: str
    bucket: str
    prefix: str

    @property
    def ident(self) -> str:
        """The name the manifest is kept under: another bucket or prefix starts a fresh baseline."""
        return f"{self.endpoint.rstrip('/')}/{self.bucket}/{self.prefix}"

    @property
    def url(self) -> str:
        return f"r2://{self.bucket}/{self.prefix}"

    def key(self, path: str) -> str:
        return self.prefix + path


def r2_configured(settings: Settings) -> bool:
    """True when any R2-specific setting is present (the account id alone serves Workers AI too)."""
    r2 = settings.r2
    return bool(r2.bucket or r2.endpoint_url or r2.access_key_id or r2.secret_access_key)


def missing_r2_settings(settings: Settings) -> list[str]:
    """The environment variables that would complete the R2 configuration."""
    missing = []
    if not settings.r2.bucket:
        missing.append("MIA_R2_BUCKET")
    if not settings.secret("r2.access_key_id"):
        missing.append("MIA_R2_ACCESS_KEY_ID")
    if not settings.secret("r2.secret_access_key"):
        missing.append("MIA_R2_SECRET_ACCESS_KEY")
    if not settings.r2_endpoint:
        missing.append("CLOUDFLARE_ACCOUNT_ID (or MIA_R2_ENDPOINT_URL)")
    return missing


def normalize_prefix(prefix: str) -> str:
    """'' or 'a/b/': no leading slash, one trailing slash, no '..' or backslash."""
    text = prefix.strip().strip("/")
    if not text:
        return ""
    parts = text.split("/")
    if "\\" in text or "\x00" in text or any(p in ("", ".", "..") for p in parts):
        raise MissingCredentialError(f"The R2 key prefix '{prefix}' is not usable.",
                                     "Use plain folder names, e.g. `mia config set r2.prefix mia/`.")
    return text + "/"


def remote_of(settings: Settings) -> Remote:
    """The configured remote, or MissingCredentialError naming what to set."""
    missing = missing_r2_settings(settings)
    if missing:
        raise MissingCredentialError(f"R2 is not configured: {', '.join(missing)} not set.", SET_HINT)
    return Remote(str(settings.r2_endpoint), str(settings.r2.bucket), normalize_prefix(settings.r2.prefix))


def make_client(settings: Settings, *, max_attempts: int = MAX_ATTEMPTS, pool: int = 32,
                connect_timeout: float = 10.0, read_timeout: float = 60.0) -> S3Client:
    """An S3 client for R2: explicit credentials, region auto, checksums only when required."""
    import boto3
    import botocore.session
    from botocore.config import Config

    remote = remote_of(settings)
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.r2.addressing_style},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=pool,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    session = boto3.session.Session(botocore_session=botocore.session.Session(session_vars=_NO_AWS_FILES))
    return session.client(
        "s3", endpoint_url=remote.endpoint, region_name="auto", config=config,
        aws_access_key_id=settings.secret("r2.access_key_id"),
        aws_secret_access_key=settings.secret("r2.secret_access_key"), aws_session_token=None)


def service_error(exc: Exception, remote: Remote, action: str) -> MiaError:
    """A botocore failure as a ServiceError with a hint (never with credentials in it)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, MiaError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return ServiceError(f"The R2 bucket '{remote.bucket}' does not exist at {remote.endpoint}.",
                                "Create it in the Cloudflare dashboard, or fix it: mia config set r2.bucket NAME",
                                service="R2", status=status, code=code)
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Unauthorized") or status in (
                401, 403):
            return ServiceError(f"R2 refused the credentials while trying to {action} ({code or status}).",
                                "Check the R2 API token: mia config set r2.access_key_id; "
                                "mia config set r2.secret_access_key", service="R2", status=status, code=code)
        return ServiceError(f"R2 could not {action}: {code} {error.get('Message', '')}".strip() + ".",
                            "Try again; if it persists, run `mia doctor`.", service="R2", status=status,
                            code=code, retryable=bool(status and status >= 500))
    if isinstance(exc, BotoCoreError):
        return ServiceError(f"Cannot reach R2 at {remote.endpoint} to {action}: {type(exc).__name__}.",
                            "Check the network, or the endpoint: cloudflare.account_id / r2.endpoint_url.",
                            service="R2", retryable=True)
    return ServiceError(f"R2 could not {action}: {type(exc).__name__}: {exc}.", None, service="R2")


def list_objects(client: S3Client, remote: Remote, sub: str = "") -> Iterator[dict[str, Any]]:
    """Every object under the prefix (+ `sub`), page after page."""
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=remote.bucket, Prefix=remote.prefix + sub):
            yield from page.get("Contents", [])
    except Exception as exc:
        raise service_error(exc, remote, "list the bucket") from None


def key_to_path(key: str, prefix: str) -> tuple[str | None, str | None]:
    """(workspace-relative path, None), (None, reason) for a refused key, or (None, None) to ignore quietly."""
    if not key.startswith(prefix):
        return None, "outside the mirror's prefix"
    rel = key[len(prefix):]
    if not rel or rel.endswith("/"):
        return None, None  # a folder marker
    if "\x00" in rel or "\\" in rel or any(ord(ch) < 32 for ch in rel):
        return None, "contains a NUL, backslash or control character"
    if rel.startswith("/"):
        return None, "is an absolute path"
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None, "contains '..', '.' or an empty path segment"
    if any(part.startswith(".") for part in parts):
        return None, None  # dotfiles (temporary files, the doctor's probe) are never mirrored
    return rel, None


def probe_bucket(settings: Settings) -> str:
    """List, put, get and delete a probe object under the prefix; ServiceError on any failure."""
    try:
        remote = remote_of(settings)
        client = make_client(settings, max_attempts=0, connect_timeout=4.0, read_timeout=8.0)  # no retry
    except MiaError as exc:
        raise ServiceError(exc.message, exc.hint, service="R2", status=0) from None
    key = remote.key(PROBE_NAME)
    body = os.urandom(16).hex().encode()
    try:
        client.list_objects_v2(Bucket=remote.bucket, Prefix=remote.prefix, MaxKeys=1)
        client.put_object(Bucket=remote.bucket, Key=key, Body=body)
        if client.get_object(Bucket=remote.bucket, Key=key)["Body"].read() != body:
            raise ServiceError(f"R2 returned other bytes than were written to '{key}'.", None, service="R2",
                               status=0)
        client.delete_object(Bucket=remote.bucket, Key=key)
    except Exception as exc:
        error = service_error(exc, remote, "list, write and read a probe object")
        raise (error if isinstance(error, ServiceError) else ServiceError(error.message, error.hint)) from None
    return f"list, put, get, delete ok in {remote.url} ({remote.endpoint})"
