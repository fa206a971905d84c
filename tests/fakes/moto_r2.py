"""A loopback S3 server (moto) standing in for R2, and the env vars that point mia at it."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

BUCKET = "mia-test"
ACCESS_KEY = "test-access-key-id"
SECRET_KEY = "test-secret-access-key-never-printed"


@dataclass
class MotoR2:
    """A running moto server plus a plain boto3 client for arranging and inspecting one bucket."""

    endpoint: str
    client: Any
    bucket: str = BUCKET
    calls: Counter[str] = field(default_factory=Counter)

    def new_bucket(self, name: str) -> MotoR2:
        """A fresh, empty bucket on the same server (one per test keeps tests apart)."""
        self.client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "auto"})
        return MotoR2(self.endpoint, self.client, name)

    def env(self, prefix: str = "") -> dict[str, str]:
        """mia's own R2 settings, the way a user sets them."""
        env = {"MIA_R2_ENDPOINT_URL": self.endpoint, "MIA_R2_BUCKET": self.bucket,
               "MIA_R2_ACCESS_KEY_ID": ACCESS_KEY, "MIA_R2_SECRET_ACCESS_KEY": SECRET_KEY}
        if prefix:
            env["MIA_R2_PREFIX"] = prefix
        return env

    def object_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def head(self, key: str) -> dict[str, Any]:
        return dict(self.client.head_object(Bucket=self.bucket, Key=key))

    def put(self, key: str, body: bytes, sha256: str | None = None) -> None:
        meta = {"sha256": sha256} if sha256 else {}
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=meta)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def plain_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="auto", aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


def count_requests(client: Any, calls: Counter[str]) -> None:
    """Count the operations a boto3 client sends (by operation name), through botocore's event hooks."""
    lock = threading.Lock()

    def before_send(event_name: str, **kwargs: Any) -> None:
        with lock:
            calls[event_name.rsplit(".", 1)[-1]] += 1  # "before-send.s3.PutObject" -> "PutObject"

    client.meta.events.register("before-send.s3", before_send)


@contextmanager
def moto_r2() -> Iterator[MotoR2]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps one in-memory backend per process, shared by every server it starts: unique names.
        yield MotoR2(endpoint, plain_client(endpoint)).new_bucket(f"{BUCKET}-{uuid.uuid4().hex[:8]}")
    finally:
        server.stop()
