"""Ctrl+C and killed runs: one line that says how to continue, and the agent shows as interrupted."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator

import pytest
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from .conftest import Mia, base_env


@pytest.fixture
def slow(mia_home) -> Iterator[Mia]:  # type: ignore[no-untyped-def]
    with FakeServices(llm=ResearchLLM(), latency={"workers-ai": 1.5}) as fake:
        yield Mia({**base_env(mia_home), **fake.env()})


def _wait_for_stage(mia: Mia) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = json.loads(mia.run("agents", "list", "--json").stdout or "[]")
        if rows and rows[0]["status"] not in ("new",):
            return
        time.sleep(0.2)
    raise AssertionError("the run never started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_stopped_run_says_how_to_continue_and_shows_as_interrupted(slow: Mia, sig: signal.Signals) -> None:
    proc = slow.popen("research", "DMD treatments", "--depth", "quick")
    _wait_for_stage(slow)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        lines = [line for line in err.splitlines() if "Interrupted" in line]
        assert lines == ["Interrupted; `mia agents resume dmd-treatments` continues the run."], err
        assert "Traceback" not in err
    rows = json.loads(slow.run("agents", "list", "--json").stdout)
    assert rows[0]["status"] == "interrupted"
    resumed = slow.run("agents", "resume", "dmd-treatments", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(slow.run("agents", "list", "--json").stdout)[0]["status"] == "done"
