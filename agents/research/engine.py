"""The durable run engine: Cloudflare Workflows' step semantics over the SQLite registry.

A step's output is stored when it succeeds and never computed again; a step in flight when the
process died runs again. A run is worked on only under a lease renewed by a heartbeat thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mia.errors import MiaError, RunConflict, RunFailed
from mia.models import Usage
from mia.store import runs as run_store
from mia.store.db import Registry

T = TypeVar("T")
LEASE_SECONDS = 60.0


class _Heartbeat(threading.Thread):
    """Renews the lease until stopped; remembers if the lease was lost to another process."""

    def __init__(self, registry: Registry, run_id: str, owner: str, lease_seconds: float) -> None:
        super().__init__(name=f"lease-{run_id}", daemon=True)
        self.registry, self.run_id, self.owner, self.lease_seconds = registry, run_id, owner, lease_seconds
        self.lost = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.lease_seconds / 4):
            try:
                if not run_store.renew_lease(self.registry, self.run_id, self.owner,
                                             lease_seconds=self.lease_seconds):
                    self.lost = True
                    return
            except Exception:  # a locked database for a moment must not kill the heartbeat
                continue

    def stop(self) -> None:
        self._stop_event.set()


class RunContext:
    """What a workflow body sees: `step()` for checkpointed work, `record_usage()` for spend."""

    def __init__(self, registry: Registry, run: run_store.RunRecord, owner: str, heartbeat: _Heartbeat) -> None:
        self.registry = registry
        self.run = run
        self.owner = owner
        self._heartbeat = heartbeat

    @property
    def run_id(self) -> str:
        return self.run.id

    def done_output(self, key: str) -> tuple[bool, Any]:
        """(True, output) if the step already finished, else (False, None)."""
        row = run_store.step_row(self.registry, self.run.id, key)
        if row and row["status"] == "done":
            return True, json.loads(row["output_json"])
        return False, None

    def step(self, key: str, fn: Callable[[], T]) -> T:
        """Run `fn` once for this run: a stored output is returned without calling it again."""
        done, output = self.done_output(key)
        if done:
            return output
        if self._heartbeat.lost:
            raise RunConflict("This process lost the run's lease to another process; stopping.", None)
        run_store.step_started(self.registry, self.run.id, key)
        try:
            result = fn()  # outside any transaction: it may take minutes
        except BaseException as exc:
            run_store.step_failed(self.registry, self.run.id, key, f"{type(exc).__name__}: {exc}")
            raise
        run_store.step_done(self.registry, self.run.id, key, result)
        return result

    def record_usage(self, usage: Usage, step_key: str | None) -> None:
        run_store.record_usage(self.registry, usage, run_id=self.run.id, agent_id=self.run.agent_id,
                               step_key=step_key)

    def set_stage(self, stage: str) -> None:
        run_store.set_stage(self.registry, self.run.id, stage)


def execute(registry: Registry, run_id: str, body: Callable[[RunContext], T], *,
            lease_seconds: float = LEASE_SECONDS) -> T:
    """Claim the run, execute `body` under a heartbeat-renewed lease, and record how it ended."""
    owner = run_store.owner_id()
    run = run_store.claim_run(registry, run_id, owner, lease_seconds=lease_seconds)
    if run.attempts > run_store.MAX_ATTEMPTS:
        message = f"Run '{run_id}' was started {run.attempts - 1} times without finishing; giving up."
        run_store.finish_run(registry, run_id, status="failed", error=message)
        row = registry.one("SELECT slug FROM agents WHERE id = ?", (run.agent_id,))
        slug = row["slug"] if row else run.agent_id
        raise RunFailed(message, f"Run the agent again with `mia agents rerun {slug}`; `mia agents show {slug}` "
                                 "shows the last error.")
    heartbeat = _Heartbeat(registry, run_id, owner, lease_seconds)
    heartbeat.start()
    try:
        result = body(RunContext(registry, run, owner, heartbeat))
    except KeyboardInterrupt:
        run_store.release_run(registry, run_id, owner)
        raise
    except MiaError as exc:
        run_store.finish_run(registry, run_id, status="failed", error=exc.message)
        raise
    except Exception as exc:
        run_store.finish_run(registry, run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        heartbeat.stop()
    return result
