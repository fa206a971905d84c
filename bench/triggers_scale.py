"""`mia triggers run --dry-run` over 100,000 triggers (100 due), against `mia --help`, in the same run.

Due triggers must be found through the (enabled, next_due) index, not by scanning: the target is a
ratio of at most 1.5. Run: python bench/triggers_scale.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TRIGGERS, DUE, AGENTS = 100_000, 100, 1_000


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(home: Path, env: dict[str, str], mia: str) -> None:
    subprocess.run([mia, "agents", "list"], env=env, check=True, capture_output=True)  # creates the schema
    now = datetime.now(UTC)
    created = stamp(now - timedelta(minutes=90))
    db = sqlite3.connect(home / "registry.db")
    db.executemany(
        "INSERT INTO agents (id, slug, question, status, sources, depth, model, budget_usd, created_at, updated_at) "
        "VALUES (?, ?, ?, 'done', 'pubmed', 'quick', '', 1.0, ?, ?)",
        [(f"a{i:06d}", f"agent-{i}", f"question {i}", created, created) for i in range(AGENTS)])
    rows = []
    for i in range(TRIGGERS):
        due = i < DUE
        next_due = stamp(now - timedelta(minutes=30)) if due else stamp(now + timedelta(hours=1 + i % 500))
        rows.append((f"a{i % AGENTS:06d}", "every", "3600", "UTC", f"instruction {i}", next_due, created, created))
    db.executemany("INSERT INTO triggers (agent_id, kind, spec, tz, instruction, enabled, next_due, created_at, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)", rows)
    db.commit()
    db.close()


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    mia = shutil.which("mia") or str(Path(sys.executable).parent / "mia")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "MIA_HOME": str(home), "MIA_CONFIG": str(Path(tmp) / "config.toml")}
        build(home, env, mia)
        _, out = timed([mia, "triggers", "run", "--dry-run", "--json"], env)
        would = sum(1 for f in json.loads(out)["fires"] if f["action"] == "would-fire")
        assert would == DUE, f"expected {DUE} due triggers, dry-run found {would}"
        dry, helps = [], []
        for _ in range(args.runs):
            dry.append(timed([mia, "triggers", "run", "--dry-run"], env)[0])
            helps.append(timed([mia, "--help"], env)[0])
    dry_ms, help_ms = statistics.median(dry) * 1000, statistics.median(helps) * 1000
    print(f"registry: {TRIGGERS:,} triggers, {DUE} due")
    print(f"mia triggers run --dry-run: {dry_ms:7.1f} ms (median of {args.runs})")
    print(f"mia --help:                 {help_ms:7.1f} ms (median of {args.runs})")
    print(f"ratio:                      {dry_ms / help_ms:7.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
