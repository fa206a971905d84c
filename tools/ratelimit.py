"""A rate limit shared by every mia process on one machine, kept in a small SQLite file in MIA_HOME.

NCBI E-utilities allow 3 requests/s without an API key and 10 with one, per IP or key: "no more than three
URL requests per second" (NCBI, "A General Introduction to the E-utilities", Usage Guidelines; API_NOTES §5).
A cron-fired trigger during an interactive run, or `mia chat` with a background research, are separate
processes behind the same address, so each having its own token bucket lets them together exceed the limit.

The limiter is GCRA (a token bucket expressed as one "theoretical arrival time" per key): every acquire reads
and moves that time inside one `BEGIN IMMEDIATE` transaction, so processes and threads queue for their slots in
turn. With burst 1 requests are spaced at least 1/rate apart, so no window of one second ever holds more than
`rate` of them, from the first second on.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mia.tools.http import RateLimiter

FILE_NAME = "ratelimits.sqlite"
BUSY_TIMEOUT_S = 30.0


class SharedRateLimiter(RateLimiter):
    """`rate` calls per second for `key` across every process using the same `path`; in-process if it cannot.

    If the file cannot be opened or written (a read-only MIA_HOME), the per-process token bucket is used
    instead: a slower-than-shared limit is better than no search at all.
    """

    def __init__(self, path: Path, key: str, rate: float, *, burst: int = 1,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(rate, burst=burst, sleep=sleep)
        self.path, self.key = path, key
        self._wall = clock
        self._conn: sqlite3.Connection | None = None
        self._shared_lock = threading.Lock()
        self._broken = False

    def __repr__(self) -> str:
        return f"SharedRateLimiter({str(self.path)!r}, {self.key!r}, rate={self.rate})"

    def acquire(self) -> None:
        """Wait for this caller's slot; its place in the queue is taken before the wait starts."""
        if self.rate <= 0:
            return
        if self._broken:
            super().acquire()
            return
        try:
            wait = self._reserve()
        except (sqlite3.Error, OSError):
            self._broken = True
            super().acquire()
            return
        if wait > 0:
            self._sleep(wait)

    def _reserve(self) -> float:
        """Move the key's theoretical arrival time one interval on; the seconds until this call may go."""
        interval = 1.0 / self.rate
        tolerance = (self.burst - 1) * interval
        with self._shared_lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self._wall()
                row = conn.execute("SELECT tat FROM limits WHERE key = ?", (self.key,)).fetchone()
                tat = float(row[0]) if row else now
                if tat > now + tolerance + 60 * interval:  # the wall clock went back: start again from now
                    tat = now
                tat = max(tat, now)
                wait = max(0.0, tat - tolerance - now)
                conn.execute("INSERT INTO limits (key, tat) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                             "tat = excluded.tat", (self.key, tat + interval))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return wait

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute("CREATE TABLE IF NOT EXISTS limits (key TEXT PRIMARY KEY, tat REAL NOT NULL)")
            self._conn = conn
        return self._conn


def machine_limiter(home: Path, key: str, rate: float) -> SharedRateLimiter:
    """The limiter for `key` shared by every mia process using this MIA_HOME (burst 1)."""
    return SharedRateLimiter(Path(home) / FILE_NAME, key, rate)
