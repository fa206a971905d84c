"""Every workspace path stays inside the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mia.errors import WorkspaceError
from mia.store.workspace import Workspace, slugify, write_atomic


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "workspace")
    w.ensure()
    return w


@pytest.mark.parametrize("bad", ["../x", "agents/../../x", "/etc/passwd", "", "a\x00b"])
def test_escaping_paths_are_refused(ws: Workspace, bad: str) -> None:
    with pytest.raises(WorkspaceError):
        ws.resolve(bad)


def test_a_symlink_pointing_out_is_refused(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("no")
    os.symlink(outside, ws.root / "link")
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ws.read_text("link/secret.txt")
    with pytest.raises(WorkspaceError):
        ws.write_text("link/new.txt", "x")
    assert not (outside / "new.txt").exists()


def test_inside_paths_round_trip(ws: Workspace) -> None:
    ws.write_text("agents/dmd/notes.md", "hello")
    assert ws.read_text("agents/dmd/notes.md") == "hello"
    assert ws.list_files("agents") == ["agents/dmd/notes.md"]


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")

    def interrupted(_: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new text that never lands")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_slugs_are_readable() -> None:
    expected = "duchenne-muscular-dystrophy-exon-skipping-2026"
    assert slugify("Duchenne muscular dystrophy: exon-skipping (2026)?") == expected
    assert slugify("???") == "agent"
    # A long question is cut between words, not in the middle of one.
    assert slugify("duchenne muscular dystrophy exon skipping therapies in ambulatory boys") == \
        "duchenne-muscular-dystrophy-exon-skipping"
    assert slugify("x" * 60) == "x" * 48  # one long word: cut at the limit
