"""NCBI's 3 requests/s hold from the first second and across mia processes on one machine.

The fake enforces the limit (FakeServices(ncbi_rate_limit=True), NCBI usage guidelines): a request that would be
the fourth within one second gets HTTP 429.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from fakes.server import FakeServices

from mia.settings import load_settings
from mia.tools.pubmed import PubMed
from mia.tools.ratelimit import SharedRateLimiter
from mia.tools.search import build_search_clients

QUERIES = ("duchenne exon skipping", "eteplirsen dystrophin", "gene therapy micro-dystrophin")
WORKER = """
import time
import httpx
from mia.settings import load_settings
from mia.tools.search import build_search_clients
sent = lambda request: print(time.time(), flush=True)
with httpx.Client(trust_env=False, timeout=30, event_hooks={{"request": [sent]}}) as http:
    clients, _ = build_search_clients(load_settings(), http, ["pubmed"])
    for query in {queries!r}:
        clients["pubmed"].search(query, max_results=2)
"""


def arrivals(fake: FakeServices) -> list[float]:
    return sorted(r.started for r in fake.requests if r.service == "pubmed")


def assert_never_four_in_a_second(times: list[float], *, slack: float = 0.1) -> None:
    """Any 4 consecutive requests span at least 1 s, less `slack` (jitter between sending and arriving)."""
    spans = [round(later - first, 3) for first, later in zip(times, times[3:], strict=False)]
    assert all(span >= 1.0 - slack for span in spans), spans


def test_the_first_second_holds_no_more_than_three_requests() -> None:
    sent: list[float] = []
    hooks = {"request": [lambda request: sent.append(time.monotonic())]}
    with FakeServices(ncbi_rate_limit=True) as fake, \
            httpx.Client(trust_env=False, timeout=10, event_hooks=hooks) as http:
        client = PubMed(http=http, base_url=f"{fake.url}/eutils")
        for query in QUERIES:  # an ESearch and an EFetch each
            client.search(query, max_results=2)
        times = arrivals(fake)

    assert len(sent) >= 6
    assert_never_four_in_a_second(sent, slack=0.0)
    assert_never_four_in_a_second(times, slack=0.4)


def test_two_processes_share_the_limit(mia_home: Path) -> None:
    with FakeServices(ncbi_rate_limit=True) as fake:
        env = {**os.environ, **fake.env()}
        workers = [subprocess.Popen([sys.executable, "-c", WORKER.format(queries=QUERIES)], env=env,
                                    cwd=tempfile.gettempdir(),  # the checkout's mia/ would shadow the package
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [w.communicate(timeout=120) for w in workers]
        times = arrivals(fake)

    assert [w.returncode for w in workers] == [0, 0], results
    sent = sorted(float(line) for out, _ in results for line in out.split())
    assert len(sent) >= 12
    assert_never_four_in_a_second(sent, slack=0.0)  # as sent: the shared limiter's own guarantee
    assert_never_four_in_a_second(times, slack=0.4)  # as the fake saw them, however loaded this machine is
    assert (mia_home / "ratelimits.sqlite").exists()


def test_threads_of_one_process_queue_for_their_slots(tmp_path: Path) -> None:
    limiter = SharedRateLimiter(tmp_path / "limits.sqlite", "ncbi", 20.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        limiter.acquire()
        with lock:
            stamps.append(time.monotonic())

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stamps.sort()
    assert stamps[-1] - stamps[0] >= 7 * 0.05 * 0.9


def test_search_clients_share_the_ncbi_limit_through_mia_home(mia_home: Path) -> None:
    with httpx.Client(trust_env=False) as http:
        clients, _ = build_search_clients(load_settings(), http, ["pubmed"])

    limiter = clients["pubmed"].limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, SharedRateLimiter) and 2.8 <= limiter.rate < 3.0 and limiter.burst == 1
    assert limiter.path == mia_home / "ratelimits.sqlite"


def test_an_unwritable_home_falls_back_to_the_process_bucket(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    limiter = SharedRateLimiter(blocker / "limits.sqlite", "ncbi", 1000.0)

    limiter.acquire()
    limiter.acquire()  # no exception: the in-process bucket took over
