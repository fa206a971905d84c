"""`mia research` on a bad network: offline (a closed port) and services that accept and never answer."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from fakes.server import FakeServices
from fakes.silent import SilentServer, closed_port, env_for

from .conftest import Mia, base_env

SOURCES = ("--sources", "pubmed,europepmc,trials")
FAST = {"MIA_SEARCH_CONNECT_TIMEOUT": "1", "MIA_SEARCH_READ_TIMEOUT": "1", "MIA_SEARCH_SOURCE_TIMEOUT": "3"}


def test_offline_is_not_success_and_the_run_resumes_once_the_network_is_back(mia_home: Path) -> None:
    offline = Mia({**base_env(mia_home), **env_for(f"http://127.0.0.1:{closed_port()}")})
    started = time.monotonic()
    result = offline.run("research", "DMD treatments", *SOURCES)
    elapsed = time.monotonic() - started
    print(f"offline run ended after {elapsed:.1f} s")
    assert result.returncode == 1, result.stderr
    assert "could not reach any source" in result.stderr and "mia doctor" in result.stderr
    assert "mia agents resume dmd-treatments" in result.stderr
    assert "No source returned anything" not in result.stderr + result.stdout and result.stdout == ""
    assert elapsed < 30
    folder = mia_home / "workspace" / "agents" / "dmd-treatments"
    assert not (folder / "report.md").exists() and not (folder / "reports").exists()
    db = sqlite3.connect(mia_home / "registry.db")
    assert db.execute("SELECT report_version FROM agents WHERE slug = 'dmd-treatments'").fetchone() == (0,)
    with FakeServices() as fake:
        online = Mia({**base_env(mia_home), **env_for(fake.url)})
        resumed = online.run("agents", "resume", "dmd-treatments", "--json")
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["status"] == "digest" and out["sources"] > 0 and (folder / "reports" / "v1.md").exists()


def test_services_that_never_answer_end_the_run_within_the_search_timeouts(mia_home: Path) -> None:
    with SilentServer() as silent:
        stuck = Mia({**base_env(mia_home), **env_for(silent.url), **FAST})
        started = time.monotonic()
        result = stuck.run("research", "DMD treatments", *SOURCES, timeout=60)
        elapsed = time.monotonic() - started
    print(f"never-answering run ended after {elapsed:.1f} s")
    assert silent.accepted >= 3  # it did reach every service, which then said nothing
    assert result.returncode == 1 and "could not reach any source" in result.stderr, result.stderr
    assert elapsed < 15


def test_one_silent_source_is_skipped_with_one_notice_naming_it(mia: Mia, services: FakeServices) -> None:
    with SilentServer() as silent:
        result = mia.run("research", "DMD treatments", "--depth", "quick", timeout=60,
                         extra_env={**FAST, "MIA_PUBMED_BASE_URL": f"{silent.url}/eutils"})
    assert result.returncode == 0, result.stderr
    assert "PubMed did not answer" in result.stdout  # the report says which source it lacks
    assert result.stderr.count("PubMed did not answer and was skipped") == 1, result.stderr
