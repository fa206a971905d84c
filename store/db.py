"""The registry: one SQLite file, opened through one function that applies migrations.

Rules (RELIABILITY.md §2): WAL, busy_timeout, foreign keys on, default (legacy) transaction
control so sqlite-utils accepts the connection, and every write that reads first inside
``BEGIN IMMEDIATE`` so two processes never double-claim anything.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mia.errors import RegistryError

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

BUSY_TIMEOUT_MS = 10_000
MIGRATION_SET = "mia"


class MigrationList:
    """The append-only migrations, applied with sqlite-utils' `Migrations`.

    Registered here rather than on a `Migrations` object so that opening an up-to-date registry
    (every command) does not import sqlite-utils: the check is one plain query.
    """

    def __init__(self) -> None:
        self.functions: list[Callable[[sqlite_utils.Database], None]] = []

    def __call__(self) -> Callable[[Callable[[sqlite_utils.Database], None]], Callable[[sqlite_utils.Database], None]]:
        def register(fn: Callable[[sqlite_utils.Database], None]) -> Callable[[sqlite_utils.Database], None]:
            self.functions.append(fn)
            return fn

        return register

    def pending(self, conn: sqlite3.Connection) -> list[str]:
        try:
            rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,))
            applied = {row[0] for row in rows}
        except sqlite3.OperationalError:  # no migrations table yet
            applied = set()
        return [fn.__name__ for fn in self.functions if fn.__name__ not in applied]

    def build(self) -> Migrations:
        from sqlite_utils.migrations import Migrations

        built = Migrations(MIGRATION_SET)
        for fn in self.functions:
            built()(fn)
        return built


migrations = MigrationList()


def utcnow() -> str:
    """Now, as the ISO-8601 UTC text every timestamp in the registry uses."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            question TEXT NOT NULL,
            status TEXT NOT NULL,
            parent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
            sources TEXT NOT NULL,
            depth TEXT NOT NULL,
            model TEXT NOT NULL,
            budget_usd REAL NOT NULL,
            report_version INTEGER NOT NULL DEFAULT 0,
            last_run_id TEXT,
            last_run_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""")
    db.execute("""
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            params_json TEXT NOT NULL,
            code_version TEXT NOT NULL,
            status TEXT NOT NULL,
            stage TEXT,
            outcome TEXT,
            origin TEXT NOT NULL DEFAULT 'local',
            owner TEXT,
            lease_until TEXT,
            wake_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT)""")
    db.execute("CREATE INDEX runs_by_status ON runs(status, lease_until)")
    db.execute("CREATE INDEX runs_by_agent ON runs(agent_id, created_at)")
    db.execute("""
        CREATE TABLE run_steps (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            step_key TEXT NOT NULL,
            seq INTEGER NOT NULL,
            status TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            output_json TEXT,
            error TEXT,
            started_at TEXT,
            finished_at TEXT,
            PRIMARY KEY (run_id, step_key))""")
    db.execute("""
        CREATE TABLE usage (
            id INTEGER PRIMARY KEY,
            run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
            agent_id TEXT REFERENCES agents(id) ON DELETE CASCADE,
            step_key TEXT,
            service TEXT NOT NULL,
            model TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            neurons REAL NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            latency_ms INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX usage_by_run ON usage(run_id)")
    db.execute("CREATE INDEX usage_by_agent ON usage(agent_id)")
    db.execute("""
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""")
    db.execute("""
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            tool_calls_json TEXT,
            created_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX messages_by_conversation ON messages(conversation_id, id)")
    db.execute("""
        CREATE TABLE triggers (
            id INTEGER PRIMARY KEY,
            agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            spec TEXT NOT NULL,
            tz TEXT NOT NULL DEFAULT 'UTC',
            instruction TEXT NOT NULL DEFAULT '',
            enabled INTEGER NOT NULL DEFAULT 1,
            next_due TEXT,
            last_slot TEXT,
            deployed INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (agent_id, kind, spec, tz, instruction))""")
    db.execute("CREATE INDEX triggers_due ON triggers(enabled, next_due)")
    db.execute("""
        CREATE TABLE trigger_fires (
            trigger_id INTEGER NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
            slot TEXT NOT NULL,
            run_id TEXT,
            claimed_by TEXT,
            claimed_at TEXT NOT NULL,
            coalesced INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (trigger_id, slot))""")


@migrations()
def m002_sync_manifest(db: sqlite_utils.Database) -> None:
    """What each mirrored file looked like, on both sides, as of the last sync (one remote per row)."""
    db.execute("""
        CREATE TABLE sync_manifest (
            remote TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            mtime_ns INTEGER NOT NULL,
            etag TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (remote, path))""")


@migrations()
def m004_inbox_and_trigger_runs(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            agent_id TEXT REFERENCES agents(id) ON DELETE CASCADE,
            run_id TEXT,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            path TEXT,
            created_at TEXT NOT NULL,
            read_at TEXT)""")
    db.execute("CREATE INDEX inbox_unread ON inbox(read_at, id)")
    db.execute("ALTER TABLE runs ADD COLUMN trigger_id INTEGER")
    db.execute("CREATE INDEX runs_by_trigger ON runs(trigger_id, status)")


@migrations()
def m003_conversation_usage(db: sqlite_utils.Database) -> None:
    # The Interaction Agent's LLM calls belong to a conversation, not to a research agent or run.
    db.execute("ALTER TABLE usage ADD COLUMN conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL")
    db.execute("CREATE INDEX usage_by_conversation ON usage(conversation_id)")
    db.execute("CREATE INDEX conversations_by_update ON conversations(updated_at)")


@migrations()
def m005_cloud_deployments(db: sqlite_utils.Database) -> None:
    """Cloud triggers: the uploaded Worker's content hash, and each deployed trigger's Workflow instance chain."""
    db.execute("""
        CREATE TABLE cloud_deployments (
            workflow TEXT PRIMARY KEY,
            script TEXT NOT NULL,
            account_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            deployed_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""")
    # No foreign key to triggers: a removed trigger's row stays until its cloud instances are terminated.
    db.execute("""
        CREATE TABLE cloud_triggers (
            trigger_id INTEGER PRIMARY KEY,
            agent_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            workflow TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            id_prefix TEXT NOT NULL,
            slots_json TEXT NOT NULL DEFAULT '[]',
            every_json TEXT,
            horizon TEXT,
            planned_at TEXT NOT NULL,
            deployed_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""")

@migrations()
def m006_outreach(db: sqlite_utils.Database) -> None:
    """Approvals for actions with effects outside mia, and the mail they send and receive."""
    db.execute("""
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY,
            action TEXT NOT NULL,
            agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
            status TEXT NOT NULL,
            summary TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload_json TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            after_untrusted_text INTEGER NOT NULL DEFAULT 0,
            decision_note TEXT,
            result_json TEXT,
            created_at TEXT NOT NULL,
            decided_at TEXT)""")
    db.execute("CREATE INDEX approvals_by_status ON approvals(status, id)")
    db.execute("""
        CREATE TABLE mail_messages (
            message_id TEXT PRIMARY KEY,
            direction TEXT NOT NULL,
            agent_id TEXT REFERENCES agents(id) ON DELETE CASCADE,
            approval_id INTEGER REFERENCES approvals(id) ON DELETE SET NULL,
            in_reply_to TEXT,
            counterpart TEXT NOT NULL,
            subject TEXT NOT NULL,
            path TEXT NOT NULL,
            run_id TEXT,
            created_at TEXT NOT NULL)""")
    db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m007_agent_purpose(db: sqlite_utils.Database) -> None:
    """Agents made by `mia eval` (purpose 'eval') are kept apart from the user's own ('research')."""
    db.execute("ALTER TABLE agents ADD COLUMN purpose TEXT NOT NULL DEFAULT 'research'")


@migrations()
def m008_estimated_usage(db: sqlite_utils.Database) -> None:
    """Usage rows whose tokens mia estimated because the service reported none (a stream without usage)."""
    db.execute("ALTER TABLE usage ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0")


@migrations()
def m009_agent_filters(db: sqlite_utils.Database) -> None:
    """The filters a person set (years, article types, trial status...), as JSON, kept for every follow-up."""
    db.execute("ALTER TABLE agents ADD COLUMN filters TEXT NOT NULL DEFAULT '{}'")


class Registry:
    """A connection to the registry with the transaction helpers mia's rules need."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._db: sqlite_utils.Database | None = None
        # One connection may be shared by a run's worker threads; transactions must not interleave.
        self._lock = threading.RLock()

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils view of the connection, made on first use (reads do without it)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A short `BEGIN IMMEDIATE` transaction: the write lock is taken before anything is read."""
        conn = self.conn
        db = self.db
        with self._lock:
            if conn.in_transaction:  # nested use joins the open transaction
                yield db
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Rows as dicts (reads only; writes go through `write()`)."""
        with self._lock:
            cursor = self.conn.execute(sql, params)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def by_id_prefix(self, table: str, ref: str) -> dict[str, Any] | None:
        """The one row of `table` whose id starts with `ref` (at least 4 characters), else None."""
        if len(ref) < 4:
            return None
        rows = self.query(f"SELECT * FROM {table} WHERE id LIKE ? LIMIT 2", (ref + "%",))
        return rows[0] if len(rows) == 1 else None

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run one write statement in its own IMMEDIATE transaction unless one is open."""
        with self.write() as db:
            return db.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new database to WAL; the switch itself may answer 'locked' at once while another process
    makes it (SQLite does not always consult the busy handler there), so try again for a few seconds."""
    for attempt in range(50):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)


def open_registry(path: Path) -> Registry:
    """Open (creating if needed) the registry at `path` and bring its schema up to date."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise RegistryError(f"Cannot open the registry '{path}': {exc}.",
                            "Check that MIA_HOME points at a writable folder.") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        _enable_wal(conn)
        registry = Registry(conn, path)
        if migrations.pending(conn):
            # Serialise migrations between processes; sqlite-utils nests its own atomic() as savepoints,
            # and re-checks what is pending once it holds the write lock.
            with registry.write() as db:
                migrations.build().apply(db)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise RegistryError(f"The registry '{path}' cannot be used: {exc}.",
                            "If it is not a mia registry, point MIA_HOME elsewhere.") from None
    return registry
