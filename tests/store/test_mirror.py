"""The R2 mirror against moto's S3 server on 127.0.0.1, configured the way a user configures R2."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.moto_r2 import ACCESS_KEY, MotoR2, count_requests, moto_r2

from mia.errors import MissingCredentialError
from mia.settings import Settings, load_settings
from mia.store import mirror
from mia.store.db import Registry, open_registry
from mia.store.r2 import key_to_path, make_client
from mia.store.sync_plan import TEMP_SUFFIX
from mia.store.transfers import MiB, TransferOptions

SMALL_PARTS = TransferOptions(workers=8, multipart_threshold=5 * MiB, part_size=5 * MiB)
WRITES = {"PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload", "DeleteObject"}


@pytest.fixture(scope="module")
def r2_server() -> Iterator[MotoR2]:
    with moto_r2() as server:
        yield server


@pytest.fixture
def r2(r2_server: MotoR2, monkeypatch: pytest.MonkeyPatch) -> MotoR2:
    bucket = r2_server.new_bucket(f"t-{uuid.uuid4().hex[:12]}")
    for name, value in bucket.env().items():
        monkeypatch.setenv(name, value)
    return bucket


def state(home: Path | None = None) -> tuple[Settings, Registry]:
    settings = load_settings({"home": str(home)} if home else None)
    return settings, open_registry(settings.registry_path)


def write(settings: Settings, rel: str, data: bytes | str) -> Path:
    path = settings.workspace_root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def counted(settings: Settings) -> tuple[Any, Counter[str]]:
    client, calls = make_client(settings), Counter[str]()
    count_requests(client, calls)
    return client, calls


def memory(settings: Settings) -> None:
    """A small agent folder as research leaves it, plus files that must never be mirrored."""
    write(settings, "agents/dmd/report.md", "# DMD treatments\n\nExon skipping [1].\n")
    write(settings, "agents/dmd/reports/v1.md", "# v1\n")
    write(settings, "agents/dmd/sources.json", '[{"number": 1}]\n')
    write(settings, "agents/dmd/evidence/claims.json", "[]\n")
    write(settings, "agents/gene/report.md", "# Gene therapy\n")
    write(settings, "agents/dmd/.report.md.x1y2.tmp", "half a write")


def test_push_then_pull_into_a_fresh_home_gives_identical_files(r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    memory(settings)
    result = mirror.push(settings, registry)
    assert result.errors == [] and len(result.uploaded) == 5
    assert r2.object_keys() == ["agents/dmd/evidence/claims.json", "agents/dmd/report.md", "agents/dmd/reports/v1.md",
                         "agents/dmd/sources.json", "agents/gene/report.md"]  # no temp file, no registry
    meta = r2.head("agents/dmd/report.md")["Metadata"]
    assert meta["sha256"] == hashlib.sha256((settings.workspace_root / "agents/dmd/report.md").read_bytes()).hexdigest()

    fresh, fresh_registry = state(tmp_path / "laptop")
    pulled = mirror.pull(fresh, fresh_registry)
    assert pulled.errors == [] and len(pulled.downloaded) == 5
    original = {k: v for k, v in digests(settings.workspace_root).items() if not k.endswith(".tmp")}
    assert digests(fresh.workspace_root) == original
    assert mirror.status(fresh, fresh_registry).clean


def test_an_unchanged_tree_is_listed_and_compared_but_nothing_moves(r2: MotoR2) -> None:
    settings, registry = state()
    memory(settings)
    mirror.push(settings, registry)
    client, calls = counted(settings)
    again = mirror.push(settings, registry, client=client)
    assert again.uploaded == [] and again.unchanged == 5
    assert calls == Counter({"ListObjectsV2": 1})  # zero PutObject / UploadPart
    os.utime(settings.workspace_root / "agents/dmd/report.md", ns=(1, 1))  # touched, same bytes
    calls.clear()
    assert mirror.push(settings, registry, client=client).uploaded == []
    assert mirror.pull(settings, registry, client=client).downloaded == []
    assert not calls.keys() & (WRITES | {"GetObject"})


def test_only_the_changed_file_is_uploaded(r2: MotoR2) -> None:
    settings, registry = state()
    memory(settings)
    mirror.push(settings, registry)
    write(settings, "agents/dmd/report.md", "# DMD treatments\n\nv2\n")
    client, calls = counted(settings)
    result = mirror.push(settings, registry, client=client)
    assert result.uploaded == ["agents/dmd/report.md"] and calls["PutObject"] == 1
    assert r2.get("agents/dmd/report.md") == b"# DMD treatments\n\nv2\n"


def test_a_file_changed_on_both_sides_is_reported_and_left_alone_until_a_side_is_preferred(
        r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    memory(settings)
    mirror.push(settings, registry)
    laptop, laptop_registry = state(tmp_path / "laptop")
    mirror.pull(laptop, laptop_registry)
    write(laptop, "agents/dmd/report.md", "edited on the laptop\n")
    mirror.push(laptop, laptop_registry)
    write(settings, "agents/dmd/report.md", "edited here\n")

    status = mirror.status(settings, registry)
    assert status.conflicts == [{"path": "agents/dmd/report.md", "local": "changed", "remote": "changed"}]
    for sync in (mirror.push, mirror.pull):
        result = sync(settings, registry)
        assert result.conflicts and result.uploaded == result.downloaded == []
    assert r2.get("agents/dmd/report.md") == b"edited on the laptop\n"
    assert (settings.workspace_root / "agents/dmd/report.md").read_text() == "edited here\n"

    resolved = mirror.push(settings, registry, prefer="local")
    assert resolved.uploaded == ["agents/dmd/report.md"] and resolved.conflicts == []
    assert r2.get("agents/dmd/report.md") == b"edited here\n"
    assert mirror.status(settings, registry).clean
    assert mirror.pull(laptop, laptop_registry).downloaded == ["agents/dmd/report.md"]
    assert (laptop.workspace_root / "agents/dmd/report.md").read_text() == "edited here\n"


def test_prefer_remote_on_pull_takes_the_remote_version(r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    write(settings, "agents/dmd/notes.md", "base\n")
    mirror.push(settings, registry)
    r2.put("agents/dmd/notes.md", b"remote edit\n", hashlib.sha256(b"remote edit\n").hexdigest())
    write(settings, "agents/dmd/notes.md", "local edit\n")
    assert mirror.pull(settings, registry).conflicts
    assert mirror.pull(settings, registry, prefer="remote").downloaded == ["agents/dmd/notes.md"]
    assert (settings.workspace_root / "agents/dmd/notes.md").read_text() == "remote edit\n"


def test_the_same_edit_on_both_sides_is_not_a_conflict(r2: MotoR2) -> None:
    settings, registry = state()
    write(settings, "agents/dmd/notes.md", "base\n")
    mirror.push(settings, registry)
    r2.put("agents/dmd/notes.md", b"same\n", hashlib.sha256(b"same\n").hexdigest())
    write(settings, "agents/dmd/notes.md", "same\n")
    status = mirror.status(settings, registry)
    assert status.clean and status.unchanged == 1


class BreakingBody:
    """A response body that fails after `after` bytes, like a connection dropped mid-download."""

    def __init__(self, body: Any, after: int) -> None:
        self.body, self.after = body, after

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        sent = 0
        for chunk in self.body.iter_chunks(size):
            yield chunk
            sent += len(chunk)
            if sent >= self.after:
                raise ConnectionResetError("connection lost mid-download")


class DownloadBreaker:
    """A client whose downloads break part-way; everything else passes through."""

    def __init__(self, client: Any, after: int) -> None:
        self._client, self._after = client, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **kwargs: Any) -> Any:
        response = self._client.get_object(**kwargs)
        response["Body"] = BreakingBody(response["Body"], self._after)
        return response


def test_an_interrupted_download_leaves_no_partial_file_and_a_rerun_completes(r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    write(settings, "agents/dmd/report.md", "v1\n")
    mirror.push(settings, registry)
    laptop, laptop_registry = state(tmp_path / "laptop")
    mirror.pull(laptop, laptop_registry)
    big = os.urandom(3 * MiB + 17)
    write(settings, "agents/dmd/data.bin", big)
    write(settings, "agents/dmd/report.md", "v2, longer than before\n")
    mirror.push(settings, registry)

    broken = mirror.pull(laptop, laptop_registry, client=DownloadBreaker(make_client(laptop), after=1))
    assert {e["path"] for e in broken.errors} == {"agents/dmd/report.md", "agents/dmd/data.bin"}
    assert broken.downloaded == [] and "connection lost" in broken.errors[0]["error"]
    folder = laptop.workspace_root / "agents/dmd"
    assert sorted(p.name for p in folder.iterdir()) == ["report.md"]  # no partial data.bin, no temp file
    assert (folder / "report.md").read_text() == "v1\n"  # the old version, whole

    again = mirror.pull(laptop, laptop_registry)
    assert again.errors == [] and again.downloaded == ["agents/dmd/data.bin", "agents/dmd/report.md"]
    assert (folder / "report.md").read_text() == "v2, longer than before\n"
    assert (folder / "data.bin").read_bytes() == big
    assert sorted(p.name for p in folder.iterdir()) == ["data.bin", "report.md"]


KILL_MID_DOWNLOAD = """
import os, signal, sys
from mia.settings import load_settings
from mia.store import mirror
from mia.store.db import open_registry
from mia.store.r2 import make_client

class Body:
    def __init__(self, body): self.body = body
    def iter_chunks(self, size):
        for chunk in self.body.iter_chunks(size):
            yield chunk
            os.kill(os.getpid(), signal.SIGKILL)  # after one chunk reached the temporary file

class Client:
    def __init__(self, client): self.client = client
    def __getattr__(self, name): return getattr(self.client, name)
    def get_object(self, **kw):
        response = self.client.get_object(**kw)
        response["Body"] = Body(response["Body"])
        return response

settings = load_settings()
registry = open_registry(settings.registry_path)
mirror.pull(settings, registry, client=Client(make_client(settings)),
            options=mirror.TransferOptions(workers=1, read_chunk=1 << 20))
"""


def test_a_pull_killed_mid_download_leaves_only_a_temp_file_that_the_next_pull_removes(
        r2: MotoR2, tmp_path: Path) -> None:
    big = os.urandom(4 * MiB)
    r2.put("agents/dmd/data.bin", big, hashlib.sha256(big).hexdigest())
    # Outside the checkout, whose mia/ folder would shadow the installed package for `python -c`.
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_MID_DOWNLOAD)], capture_output=True, text=True,
                          timeout=60, cwd=tempfile.gettempdir())
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    settings, registry = state()
    folder = settings.workspace_root / "agents/dmd"
    leftovers = list(folder.glob(f".data.bin.*{TEMP_SUFFIX}"))
    assert len(leftovers) == 1 and 0 < leftovers[0].stat().st_size < len(big)
    assert not (folder / "data.bin").exists()
    result = mirror.pull(settings, registry)
    assert result.downloaded == ["agents/dmd/data.bin"] and (folder / "data.bin").read_bytes() == big
    assert not list(folder.glob(".*"))


def test_deletions_travel_only_with_delete(r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    memory(settings)
    mirror.push(settings, registry)
    laptop, laptop_registry = state(tmp_path / "laptop")
    mirror.pull(laptop, laptop_registry)

    (settings.workspace_root / "agents/gene/report.md").unlink()
    kept = mirror.push(settings, registry)
    assert kept.kept == ["agents/gene/report.md"] and "agents/gene/report.md" in r2.object_keys()
    deleted = mirror.push(settings, registry, delete=True)
    assert deleted.deleted_remote == ["agents/gene/report.md"] and "agents/gene/report.md" not in r2.object_keys()

    target = laptop.workspace_root / "agents/gene/report.md"
    assert mirror.pull(laptop, laptop_registry).kept == ["agents/gene/report.md"] and target.exists()
    assert mirror.pull(laptop, laptop_registry, delete=True).deleted_local == ["agents/gene/report.md"]
    assert not target.exists() and not target.parent.exists()  # the emptied folder goes too
    assert mirror.status(laptop, laptop_registry).clean


def test_a_large_file_goes_up_in_equal_parts_with_its_sha256_in_metadata(r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    data = os.urandom(11 * MiB + 123)
    write(settings, "agents/dmd/evidence/fulltext.bin", data)
    client, calls = counted(settings)
    result = mirror.push(settings, registry, client=client, options=SMALL_PARTS)
    assert result.uploaded == ["agents/dmd/evidence/fulltext.bin"] and result.bytes == len(data)
    head = r2.head("agents/dmd/evidence/fulltext.bin")
    assert head["ETag"].strip('"').endswith("-3") and calls["UploadPart"] == 3
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    fresh, fresh_registry = state(tmp_path / "laptop")
    mirror.pull(fresh, fresh_registry)
    assert (fresh.workspace_root / "agents/dmd/evidence/fulltext.bin").read_bytes() == data
    assert mirror.push(settings, registry, options=SMALL_PARTS).uploaded == []


def test_a_remote_key_that_would_escape_the_workspace_is_refused_and_never_written(
        r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    r2.put("agents/x/../../../etc/evil", b"pwned")
    r2.put("agents/x/..\\..\\evil2", b"pwned")
    r2.put("agents/x/fine.md", b"ok")
    result = mirror.pull(settings, registry)
    assert sorted(r["key"] for r in result.refused) == ["agents/x/../../../etc/evil", "agents/x/..\\..\\evil2"]
    assert result.downloaded == ["agents/x/fine.md"] and result.errors == []
    assert not [p for p in tmp_path.rglob("evil*")] and not Path("/etc/evil").exists()
    assert mirror.status(settings, registry).refused == result.refused


def test_a_folder_linking_outside_the_workspace_is_never_written_through(r2: MotoR2, tmp_path: Path) -> None:
    settings, registry = state()
    outside = tmp_path / "outside"
    outside.mkdir()
    settings.workspace_root.joinpath("agents").mkdir(parents=True)
    settings.workspace_root.joinpath("agents/linked").symlink_to(outside)
    r2.put("agents/linked/evil.md", b"pwned")
    result = mirror.pull(settings, registry)
    assert [e["path"] for e in result.errors] == ["agents/linked/evil.md"] and list(outside.iterdir()) == []


@pytest.mark.parametrize(("key", "expected"), [
    ("agents/a/report.md", ("agents/a/report.md", None)),
    ("agents/a/../../etc/passwd", (None, "contains '..', '.' or an empty path segment")),
    ("/etc/passwd", (None, "is an absolute path")),
    ("agents\\a\\x", (None, "contains a NUL, backslash or control character")),
    ("agents/a/x\x00y", (None, "contains a NUL, backslash or control character")),
    ("agents/a/.report.md.abc.tmp", (None, None)),
    ("agents/a/", (None, None)),
])
def test_remote_keys_map_to_workspace_paths_only_when_safe(key: str, expected: tuple[str | None, str | None]) -> None:
    assert key_to_path(key, "") == expected


def test_keys_stay_under_the_prefix_and_named_agents_limit_the_scope(r2: MotoR2, monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    monkeypatch.setenv("MIA_R2_PREFIX", "team/mia")
    r2.put("elsewhere/agents/dmd/report.md", b"not ours")
    settings, registry = state()
    memory(settings)
    result = mirror.push(settings, registry, agents=["dmd"])
    assert all(key.startswith("team/mia/agents/dmd/") for key in r2.object_keys() if not key.startswith("elsewhere/"))
    assert len(result.uploaded) == 4 and "elsewhere/agents/dmd/report.md" in r2.object_keys()
    assert mirror.status(settings, registry).local["new"] == ["agents/gene/report.md"]


def test_the_client_uses_mias_settings_and_never_the_aws_environment(
        r2: MotoR2, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aws = tmp_path / "aws"
    aws.mkdir()
    (aws / "credentials").write_text("[default]\naws_access_key_id = AKIAFROMFILE\naws_secret_access_key = x\n")
    (aws / "config").write_text("[profile dev]\nregion = eu-west-1\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in {"AWS_PROFILE": "no-such-profile", "AWS_ACCESS_KEY_ID": "AKIAFROMENV",
                        "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
                        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
                        "AWS_CONFIG_FILE": str(aws / "config"), "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MIA_R2_ADDRESSING_STYLE", "virtual")
    client = make_client(load_settings())
    config = client.meta.config
    assert client.meta.region_name == "auto" and config.s3 == {"addressing_style": "virtual"}
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    # botocore stores retries={"max_attempts": 5} as 6 attempts in all (the first plus 5 retries)
    assert config.signature_version == "s3v4" and config.retries == {"mode": "standard", "total_max_attempts": 6}
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.token) == (ACCESS_KEY, None)

    monkeypatch.delenv("MIA_R2_ADDRESSING_STYLE")
    settings, registry = state()
    client, _ = counted(settings)
    headers: list[dict[str, str]] = []
    client.meta.events.register("before-send.s3.PutObject", lambda request, **_: headers.append(dict(request.headers)))
    write(settings, "agents/dmd/report.md", "x")
    assert mirror.push(settings, registry, client=client).uploaded == ["agents/dmd/report.md"]
    sent = {k.lower(): v for k, v in headers[0].items()}
    assert not [k for k in sent if k.startswith("x-amz-checksum") or k == "x-amz-trailer"]
    assert "AKIAFROMENV" not in str(sent.get("authorization")) and ACCESS_KEY in str(sent.get("authorization"))


def test_missing_r2_settings_name_the_environment_variables() -> None:
    with pytest.raises(MissingCredentialError) as caught:
        make_client(load_settings())
    text = str(caught.value)
    for name in ("MIA_R2_BUCKET", "MIA_R2_ACCESS_KEY_ID", "MIA_R2_SECRET_ACCESS_KEY", "CLOUDFLARE_ACCOUNT_ID",
                 "MIA_R2_ENDPOINT_URL", "mia config set"):
        assert name in text


def test_auto_push_mirrors_an_agent_and_turns_failures_into_a_notice(r2: MotoR2,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    settings, registry = state()
    memory(settings)
    assert mirror.auto_push(settings, registry, "dmd") is None
    assert [k for k in r2.object_keys() if k.startswith("agents/gene/")] == []
    assert "agents/dmd/report.md" in r2.object_keys()
    monkeypatch.setenv("MIA_R2_BUCKET", "no-such-bucket")
    notice = mirror.auto_push(load_settings(), registry, "dmd")
    assert notice and "no-such-bucket" in notice and "mia sync push dmd" in notice


def test_deleting_an_agents_remote_copy_removes_only_its_objects(r2: MotoR2) -> None:
    settings, registry = state()
    memory(settings)
    mirror.push(settings, registry)
    assert mirror.delete_remote_agent(settings, registry, "dmd") == 4
    assert r2.object_keys() == ["agents/gene/report.md"]
    assert mirror.status(settings, registry, agents=["dmd"]).local["new"]  # the manifest forgot them too


def test_doctor_probes_the_bucket_when_configured_and_skips_it_otherwise(r2: MotoR2,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from mia.tools.health import check_r2

    check = check_r2(load_settings())
    assert check.status == "ok" and "put" in check.detail and r2.object_keys() == []
    monkeypatch.setenv("MIA_R2_BUCKET", "no-such-bucket")
    failed = check_r2(load_settings())
    assert failed.status == "warn" and "no-such-bucket" in failed.detail
    for name in ("MIA_R2_BUCKET", "MIA_R2_ENDPOINT_URL", "MIA_R2_ACCESS_KEY_ID", "MIA_R2_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    skipped = check_r2(load_settings())
    assert skipped.status == "skip" and "optional" in skipped.detail
