"""Moving one file between the workspace and R2: verified, atomic on the local side, confined to the workspace."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mia.errors import ServiceError, WorkspaceError
from mia.store.r2 import Remote, S3Client
from mia.store.sync_plan import TEMP_SUFFIX, Change, Entry, LocalFile, sha256_file
from mia.store.workspace import Workspace

MiB = 1024 * 1024


@dataclass(frozen=True)
class TransferOptions:
    """Fixed transfer sizes (no settings; tests inject smaller ones). Parts are all the same size, as R2 asks."""

    workers: int = 16
    multipart_threshold: int = 8 * MiB
    part_size: int = 8 * MiB
    read_chunk: int = 1 * MiB
    part_concurrency: int = 4


@dataclass(frozen=True)
class Mover:
    """Everything one transfer needs: the client, the remote, the workspace and a byte counter."""

    client: S3Client
    remote: Remote
    workspace: Workspace
    options: TransferOptions
    on_bytes: Callable[[int], None]

    @property
    def root(self) -> Path:
        return self.workspace.root

    def upload(self, change: Change) -> Entry:
        """Put the local file; its sha256 travels as metadata because multipart ETags are not content hashes."""
        path = self.workspace.resolve(change.path)
        before = os.stat(path, follow_symlinks=False)
        extra = {"ContentType": mimetypes.guess_type(change.path)[0] or "application/octet-stream"}
        if before.st_size < self.options.multipart_threshold:
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            response = self.client.put_object(Bucket=self.remote.bucket, Key=self.remote.key(change.path), Body=data,
                                              Metadata={"sha256": sha}, **extra)
            self.on_bytes(len(data))
            return Entry(change.path, len(data), sha, before.st_mtime_ns, response["ETag"].strip('"'))
        sha = _known_sha(change.local_file, before) or sha256_file(path)
        etag = self._upload_multipart(path, change.path, sha, extra)
        after = os.stat(path, follow_symlinks=False)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise WorkspaceError(f"'{change.path}' changed while it was being uploaded.", "Run the push again.")
        return Entry(change.path, before.st_size, sha, before.st_mtime_ns, etag)

    def _upload_multipart(self, path: Path, rel: str, sha: str, extra: dict[str, str]) -> str:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=self.options.multipart_threshold,
                                multipart_chunksize=self.options.part_size,
                                max_concurrency=self.options.part_concurrency,
                                preferred_transfer_client="classic")
        key = self.remote.key(rel)
        self.client.upload_file(str(path), self.remote.bucket, key, ExtraArgs={"Metadata": {"sha256": sha}, **extra},
                                Config=config, Callback=self.on_bytes)
        return str(self.client.head_object(Bucket=self.remote.bucket, Key=key)["ETag"]).strip('"')

    def download(self, change: Change) -> Entry:
        """Stream into a dotfile beside the target, check the sha256, then rename over the target."""
        assert change.remote_obj is not None
        target = self.workspace.resolve(change.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target = self.workspace.resolve(change.path)  # again: a folder on the way may be a link out
        response = self.client.get_object(Bucket=self.remote.bucket, Key=change.remote_obj.key)
        expected = response.get("Metadata", {}).get("sha256")
        etag = str(response["ETag"]).strip('"')
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
        try:
            sha, md5 = self._receive(fd, response["Body"])
            if expected and sha != expected:
                raise ServiceError(f"The download of '{change.path}' does not match its sha256; nothing was written.",
                                   "Run the pull again.", service="R2")
            if not expected and "-" not in etag and md5 != etag:
                raise ServiceError(f"The download of '{change.path}' does not match its ETag; nothing was written.",
                                   "Run the pull again.", service="R2")
            if not _unchanged(target, change.local_file):
                raise WorkspaceError(f"'{change.path}' changed locally during the pull; it was left alone.",
                                     "Run `mia sync status` and pull again.")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        stat = target.stat()
        return Entry(change.path, stat.st_size, sha, stat.st_mtime_ns, etag)

    def _receive(self, fd: int, body: object) -> tuple[str, str]:
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as fh:
            for chunk in body.iter_chunks(self.options.read_chunk):  # type: ignore[attr-defined]
                fh.write(chunk)
                sha.update(chunk)
                md5.update(chunk)
                self.on_bytes(len(chunk))
            fh.flush()
            os.fsync(fh.fileno())
        return sha.hexdigest(), md5.hexdigest()

    def delete_remote(self, change: Change) -> None:
        key = change.remote_obj.key if change.remote_obj else self.remote.key(change.path)
        self.client.delete_object(Bucket=self.remote.bucket, Key=key)

    def delete_local(self, change: Change) -> None:
        """Remove a file the remote deleted, unless it changed here since the scan; prune empty folders."""
        target = self.workspace.resolve(change.path)
        if not _unchanged(target, change.local_file):
            raise WorkspaceError(f"'{change.path}' changed locally during the pull; it was kept.", None)
        target.unlink(missing_ok=True)
        root = self.root.resolve()
        folder = target.parent
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _known_sha(scanned: LocalFile | None, stat: os.stat_result) -> str | None:
    if scanned and scanned.sha256 and (scanned.size, scanned.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
        return scanned.sha256
    return None


def _unchanged(target: Path, scanned: LocalFile | None) -> bool:
    """The file is still as the scan saw it (or still absent)."""
    try:
        stat = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        return scanned is None
    return scanned is not None and (stat.st_size, stat.st_mtime_ns) == (scanned.size, scanned.mtime_ns)
