"""`mia sync`, `mia agents delete --remote` and `mia agents export` as installed, against moto on 127.0.0.1."""

from __future__ import annotations

import json
import tarfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.moto_r2 import SECRET_KEY, MotoR2, moto_r2

from mia.settings import load_settings
from mia.store import runs
from mia.store.agents import create_agent
from mia.store.db import open_registry

from .conftest import Mia, base_env

RESULT_KEYS = {"direction", "remote", "uploaded", "downloaded", "deleted_remote", "deleted_local", "kept",
               "conflicts", "refused", "errors", "pending", "unchanged", "bytes", "seconds"}
STATUS_KEYS = {"remote", "clean", "local", "remote_changes", "conflicts", "refused", "unchanged"}


@pytest.fixture(scope="module")
def r2_server() -> Iterator[MotoR2]:
    with moto_r2() as server:
        yield server


@pytest.fixture
def r2(r2_server: MotoR2) -> MotoR2:
    return r2_server.new_bucket(f"e-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def cli(r2: MotoR2, mia_home: Path) -> Mia:
    return Mia({**base_env(mia_home), **r2.env(), "AWS_PROFILE": "not-a-profile", "AWS_ACCESS_KEY_ID": "AKIAWRONG"})


def make_memory(home: Path) -> None:
    folder = home / "workspace" / "agents" / "dmd-treatments"
    (folder / "reports").mkdir(parents=True)
    (folder / "report.md").write_text("# DMD treatments\n\nExon skipping [1].\n")
    (folder / "reports" / "v1.md").write_text("# DMD treatments\n")
    (folder / "sources.json").write_text('[{"number": 1, "title": "Eteplirsen"}]\n')


def test_push_and_status_as_a_user_runs_them(cli: Mia, r2: MotoR2, mia_home: Path) -> None:
    make_memory(mia_home)
    before = json.loads(cli.run("sync", "status", "--json").stdout)
    assert set(before) == STATUS_KEYS and before["clean"] is False
    assert sorted(before["local"]["new"]) == ["agents/dmd-treatments/report.md",
                                              "agents/dmd-treatments/reports/v1.md",
                                              "agents/dmd-treatments/sources.json"]
    pushed = cli.run("sync", "push", "--json")
    assert pushed.returncode == 0, pushed.stderr
    out = json.loads(pushed.stdout)
    assert set(out) == RESULT_KEYS and out["direction"] == "push" and len(out["uploaded"]) == 3
    assert r2.object_keys() == sorted(out["uploaded"])
    after = cli.run("sync", "status", "--json")
    assert json.loads(after.stdout)["clean"] is True and json.loads(after.stdout)["unchanged"] == 3
    again = json.loads(cli.run("sync", "push", "--json").stdout)
    assert again["uploaded"] == [] and again["unchanged"] == 3
    human = cli.run("sync", "push")
    assert human.returncode == 0 and "Pushed 0 file(s)" in human.stderr
    for result in (pushed, after, human):
        assert SECRET_KEY not in result.stdout + result.stderr


def test_a_conflict_exits_3_and_a_bad_prefer_is_a_usage_error(cli: Mia, r2: MotoR2, mia_home: Path) -> None:
    make_memory(mia_home)
    cli.run("sync", "push")
    r2.put("agents/dmd-treatments/report.md", b"edited elsewhere\n")
    (mia_home / "workspace/agents/dmd-treatments/report.md").write_text("edited here\n")
    conflict = cli.run("sync", "pull", "dmd-treatments")
    assert conflict.returncode == 3 and "conflict" in conflict.stderr and "--prefer" in conflict.stderr
    bad = cli.run("sync", "push", "--prefer", "newest")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --prefer takes local or remote") and bad.stdout == ""
    resolved = cli.run("sync", "pull", "--prefer", "remote", "--json")
    assert resolved.returncode == 0 and json.loads(resolved.stdout)["downloaded"] == ["agents/dmd-treatments/report.md"]


def test_without_r2_settings_sync_says_what_to_set(mia_home: Path) -> None:
    result = Mia(base_env(mia_home)).run("sync", "status")
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: R2 is not configured: MIA_R2_BUCKET")
    assert "mia config set r2.bucket" in result.stderr


def seed_agent(home: Path) -> str:
    registry = open_registry(load_settings().registry_path)
    agent = create_agent(registry, question="DMD treatments", sources=["pubmed"], depth="quick", model="m",
                         budget_usd=0.5)
    run = runs.create_run(registry, agent_id=agent.id, kind="research", params={"q": 1}, code_version="t")
    runs.step_started(registry, run.id, "plan")
    runs.step_done(registry, run.id, "plan", {"queries": ["dmd"]})
    make_memory(home)
    return agent.id


def test_deleting_an_agent_with_remote_removes_its_objects_too(cli: Mia, r2: MotoR2, mia_home: Path) -> None:
    seed_agent(mia_home)
    r2.put("agents/other/report.md", b"another agent")
    cli.run("sync", "push")
    assert len(r2.object_keys()) == 4
    result = cli.run("agents", "delete", "dmd-treatments", "--remote", "--yes")
    assert result.returncode == 0, result.stderr
    assert r2.object_keys() == ["agents/other/report.md"]
    assert not (mia_home / "workspace/agents/dmd-treatments").exists()


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_an_agent_exports_to_a_portable_archive(cli: Mia, mia_home: Path, tmp_path: Path, suffix: str) -> None:
    agent_id = seed_agent(mia_home)
    (mia_home / "workspace/agents/dmd-treatments/.report.md.abcd.tmp").write_text("half a write")
    target = tmp_path / "out" / f"dmd{suffix}"
    target.parent.mkdir()  # a missing folder is refused (tested in tests/commands), so make it first
    result = cli.run("agents", "export", "dmd-treatments", "--output", str(target), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"path": str(target), "name": "dmd-treatments", "files": 3,
                                         "bytes": json.loads(result.stdout)["bytes"]}
    if suffix == ".zip":
        with zipfile.ZipFile(target) as archive:
            contents = {name: archive.read(name) for name in archive.namelist()}
    else:
        with tarfile.open(target) as archive:
            contents = {m.name: archive.extractfile(m).read() for m in archive.getmembers()  # type: ignore[union-attr]
                        if m.isfile()}
    assert set(contents) == {"dmd-treatments/files/report.md", "dmd-treatments/files/reports/v1.md",
                             "dmd-treatments/files/sources.json", "dmd-treatments/manifest.json",
                             "dmd-treatments/registry/agent.json", "dmd-treatments/registry/runs.json",
                             "dmd-treatments/registry/run_steps.json", "dmd-treatments/registry/usage.json"}
    assert json.loads(contents["dmd-treatments/registry/agent.json"])["id"] == agent_id
    assert json.loads(contents["dmd-treatments/registry/run_steps.json"])[0]["step_key"] == "plan"
    assert contents["dmd-treatments/files/report.md"].startswith(b"# DMD treatments")
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left


def test_with_sync_auto_a_research_run_mirrors_its_folder(mia: Mia, r2: MotoR2, mia_home: Path) -> None:
    env = {**mia.env, **r2.env(), "MIA_SYNC_AUTO": "true"}
    result = Mia(env).run("research", "DMD treatments", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    keys = r2.object_keys()
    assert "agents/dmd-treatments/report.md" in keys and "agents/dmd-treatments/sources.json" in keys
    assert r2.get("agents/dmd-treatments/report.md") == (
        mia_home / "workspace/agents/dmd-treatments/report.md").read_bytes()
    doctor = json.loads(Mia(env).run("doctor", "--json").stdout)
    r2_check = next(c for c in doctor["checks"] if c["name"].startswith("R2"))
    assert r2_check["status"] == "ok" and ".mia-doctor-probe" not in str(r2.object_keys())


def test_sync_pull_brings_a_cloud_run_home_and_records_it_once(cli: Mia, r2: MotoR2, mia_home: Path) -> None:
    registry = open_registry(load_settings().registry_path)
    agent = create_agent(registry, question="DMD treatments", sources=["pubmed"], depth="quick", model="m",
                         budget_usd=1.0)
    run_id = "trg-1-abc123-20261201T080000Z"
    record = {"run_id": run_id, "origin": "cloud", "trigger_id": 1, "slot": "2026-12-01T08:00:00Z",
              "question": "DMD treatments", "report_version": 1, "outcome": "complete", "sources": 3,
              "citations_removed": 0, "notices": [], "finished_at": "2026-12-01T08:03:00Z",
              "usage": {"cost_usd": 0.01, "items": [{"service": "Workers AI", "input_tokens": 500,
                                                     "output_tokens": 100, "cost_usd": 0.01, "requests": 3}]}}
    base = f"agents/{agent.slug}"
    r2.put(f"{base}/runs/{run_id}.json", json.dumps(record).encode())
    r2.put(f"{base}/report.md", b"# DMD treatments\n\nA cloud-written report [1].\n")
    first = cli.run("sync", "pull", "--json")
    assert first.returncode == 0, first.stderr
    pulled = json.loads(first.stdout)
    assert [(r["run_id"], r["outcome"]) for r in pulled["cloud_runs"]] == [(run_id, "complete")]
    assert (mia_home / "workspace" / base / "report.md").read_text().startswith("# DMD treatments")
    row = registry.one("SELECT origin, status, agent_id FROM runs WHERE id = ?", (run_id,))
    assert row == {"origin": "cloud", "status": "succeeded", "agent_id": agent.id}
    again = json.loads(cli.run("sync", "pull", "--json").stdout)
    assert again["cloud_runs"] == [] and registry.one("SELECT COUNT(*) AS n FROM runs")["n"] == 1
