"""One EFetch for the PMIDs of every PubMed search waiting for one.

Concurrent searches (a research run's sub-questions) each find their PMIDs with ESearch, then need the records.
Sent one per search, those EFetch calls queue behind NCBI's rate limit (3 or 10 requests/s) one after another.
Here the first search to need records waits for the next rate-limit slot; whatever ids the other searches hand in
meanwhile go out in the same call, up to 200 ids (NCBI's E-utilities guidance: "for more than about 200 UIDs"
use HTTP POST; mia stays under it and keeps GET). Searches announce themselves (`expect`) before their ESearch,
so the call also waits, briefly, for those still running: the sub-questions of a run share one EFetch. A search
alone still makes exactly one call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mia.tools.http import RateLimiter
from mia.tools.search import ServiceCalls

MAX_IDS = 200
WAIT_FOR_SEARCHES_S = 1.0  # how long a slot is held for searches still running before the call goes anyway
T = TypeVar("T")


class _Prepaid:
    """A limiter whose first token was already taken (by the batch leader): later acquires (retries) wait."""

    def __init__(self, limiter: RateLimiter | Any) -> None:
        self.limiter, self.first = limiter, True

    def acquire(self) -> None:
        if self.first:
            self.first = False
            return
        self.limiter.acquire()


@dataclass
class _Request(Generic[T]):
    ids: list[str]
    calls: ServiceCalls
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    served: bool = False
    found: dict[str, T] = field(default_factory=dict)
    error: BaseException | None = None


class EFetchBatcher(Generic[T]):
    """`fetch(ids, calls)` returns {pmid: record} for `ids`, sharing EFetch calls with concurrent callers.

    `send(ids, calls)` makes one EFetch call for `ids` through `calls` (a ServiceCalls, counted on the caller that
    sends it) and returns the records by PMID. Errors of a shared call are raised in every caller it served.
    """

    def __init__(self, send: Callable[[list[str], ServiceCalls], dict[str, T]], *, max_ids: int = MAX_IDS) -> None:
        self._send = send
        self._max_ids = max_ids
        self._lock = threading.Lock()
        self._searches_done = threading.Condition(self._lock)
        self._queue: list[_Request[T]] = []
        self._leading = False
        self._running = 0  # searches announced with expect() that have not handed in their ids yet

    def expect(self) -> None:
        """A search is starting: a call about to go out waits (briefly) for its ids."""
        with self._lock:
            self._running += 1

    def cancel(self) -> None:
        """An announced search will not fetch (it failed, or found nothing)."""
        with self._lock:
            self._running = max(0, self._running - 1)
            self._searches_done.notify_all()

    def fetch(self, ids: list[str], calls: ServiceCalls) -> dict[str, T]:
        """The records of `ids` (missing ones left out); blocks until a call carrying them returns."""
        request: _Request[T] = _Request(list(ids), calls)
        with self._lock:
            self._running = max(0, self._running - 1)
            self._searches_done.notify_all()
            self._queue.append(request)
            if not self._leading:
                self._leading = request.lead = True
        while not request.served:
            if request.lead:
                self._lead(request)
            else:
                request.wake.wait()
                request.wake.clear()
        if request.error is not None:
            raise request.error
        return request.found

    def _lead(self, me: _Request[T]) -> None:
        """Send calls (each after its rate-limit slot) until `me` is served, then hand the lead on."""
        try:
            while not me.served:
                limiter = me.calls.limiter
                if limiter is not None:
                    limiter.acquire()  # the slot first: ids handed in while we wait ride along
                with self._lock:
                    self._searches_done.wait_for(lambda: self._running == 0, timeout=WAIT_FOR_SEARCHES_S)
                    batch = self._take()
                self._serve(batch, me, limiter)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False

    def _take(self) -> list[_Request[T]]:
        batch: list[_Request[T]] = []
        ids: set[str] = set()
        while self._queue and (not batch or len(ids | set(self._queue[0].ids)) <= self._max_ids):
            batch.append(self._queue.pop(0))
            ids |= set(batch[-1].ids)
        return batch

    def _serve(self, batch: list[_Request[T]], me: _Request[T], limiter: Any) -> None:
        ids = list(dict.fromkeys(i for request in batch for i in request.ids))
        me.calls.limiter = _Prepaid(limiter) if limiter is not None else None  # type: ignore[assignment]
        try:
            found = self._send(ids, me.calls)
        except BaseException as exc:  # every caller of this call sees its failure
            for request in batch:
                request.error = exc
        else:
            for request in batch:
                request.found = {i: found[i] for i in request.ids if i in found}
        finally:
            me.calls.limiter = limiter
        for request in batch:
            request.served = True
            if request is not me:
                request.wake.set()
