"""`mia sync push` against `aws s3 sync` on the same tree and the same loopback S3 server (moto).

The tree: 2,000 small files in agent folders plus a few multi-MB ones. Both tools run as subprocesses
(startup included) into fresh buckets, interleaved, and the median of N rounds is reported; the no-op
push (nothing changed) is also timed and its write requests counted (it must make none).
Targets: full push <= 1.0x `aws s3 sync`; no-op push 0 PUTs and under 2 s.
Run: python bench/sync.py [--rounds N] [--small N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from fakes.moto_r2 import ACCESS_KEY, SECRET_KEY, MotoR2, count_requests, plain_client  # noqa: E402

MIA = str(Path(sys.executable).parent / "mia")
BIG_FILES = {"agents/trial-0/evidence/fulltext.pdf": 12, "agents/trial-1/evidence/dataset.csv": 20,
             "agents/trial-2/evidence/figures.zip": 9}


@contextmanager
def moto_process() -> Iterator[MotoR2]:
    """moto's S3 server in its own process, as R2 would be: the client's CPU and the server's do not mix."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = plain_client(endpoint)
        for _ in range(100):
            try:
                client.list_buckets()
                break
            except Exception:
                time.sleep(0.1)
        yield MotoR2(endpoint, client)
    finally:
        server.terminate()
        server.wait(timeout=10)


def make_tree(root: Path, small: int) -> int:
    """Write `small` files of 200 B-4 KB across 20 agent folders, plus the big ones; total bytes."""
    total = 0
    for i in range(small):
        agent, kind = f"agents/trial-{i % 20}", ("sources", "evidence", "reports", "notes")[i % 4]
        path = root / agent / kind / f"item-{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(100 + (i * 37) % 2000).hex().encode()
        path.write_bytes(data)
        total += len(data)
    for rel, mib in BIG_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(mib * 1024 * 1024))
        total += mib * 1024 * 1024
    return total


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MIA_", "AWS_", "CLOUDFLARE_"))}
    return {**keep, **extra}


def mia_env(home: Path, bucket: MotoR2) -> dict[str, str]:
    return clean_env({"MIA_HOME": str(home), "MIA_CONFIG": str(home / "config.toml"), **bucket.env()})


def aws_env(tmp: Path) -> dict[str, str]:
    return clean_env({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                      "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp / "aws-config"),
                      "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "aws-credentials"),
                      "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                      "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"})


def noop_push(home: Path, bucket: MotoR2) -> tuple[float, Counter[str]]:
    """Time an in-process push of the unchanged tree and count its requests by operation."""
    saved = dict(os.environ)
    os.environ.update(mia_env(home, bucket))
    try:
        from mia.settings import load_settings
        from mia.store import mirror
        from mia.store.db import open_registry
        from mia.store.r2 import make_client

        settings = load_settings()
        registry = open_registry(settings.registry_path)
        client, calls = make_client(settings), Counter[str]()
        count_requests(client, calls)
        start = time.perf_counter()
        result = mirror.push(settings, registry, client=client)
        elapsed = time.perf_counter() - start
        assert result.uploaded == [] and not result.errors, result.to_json()
        registry.close()
        return elapsed, calls
    finally:
        os.environ.clear()
        os.environ.update(saved)


def one_round(server: MotoR2, tree: Path, tmp: Path, n: int, aws: str) -> dict[str, float]:
    mia_bucket, aws_bucket = server.new_bucket(f"mia-{n}"), server.new_bucket(f"aws-{n}")
    home = tmp / f"home-{n}"
    shutil.copytree(tree, home / "workspace")
    figures = {}
    runs = [("mia", lambda: timed([MIA, "sync", "push", "--quiet"], mia_env(home, mia_bucket))),
            ("aws", lambda: timed([aws, "s3", "sync", str(tree), f"s3://{aws_bucket.bucket}/", "--endpoint-url",
                                   server.endpoint, "--only-show-errors"], aws_env(tmp)))]
    for name, run in (runs if n % 2 == 0 else runs[::-1]):  # alternate who goes first
        figures[name] = run()
    assert len(mia_bucket.object_keys()) == len(aws_bucket.object_keys())
    figures["mia_noop_cli"] = timed([MIA, "sync", "push", "--quiet"], mia_env(home, mia_bucket))
    figures["mia_noop"], calls = noop_push(home, mia_bucket)
    figures["noop_writes"] = float(sum(v for k, v in calls.items() if k in ("PutObject", "UploadPart")))
    figures["aws_noop"] = timed([aws, "s3", "sync", str(tree), f"s3://{aws_bucket.bucket}/", "--endpoint-url",
                                 server.endpoint, "--only-show-errors"], aws_env(tmp))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=2000)
    args = parser.parse_args()
    aws = shutil.which("aws")
    if aws is None:
        raise SystemExit("The aws CLI is not on PATH (pip install awscli).")
    with tempfile.TemporaryDirectory() as tmp_name, moto_process() as server:
        tmp = Path(tmp_name)
        total = make_tree(tmp / "tree", args.small)
        files = sum(1 for p in (tmp / "tree").rglob("*") if p.is_file())
        print(f"tree: {files} files, {total / 1e6:.1f} MB; server: moto_server process on {server.endpoint}; "
              f"rounds: {args.rounds}")
        rounds = [one_round(server, tmp / "tree", tmp, n, aws) for n in range(args.rounds)]
    med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(f"mia sync push (full tree)      {med['mia']:6.2f} s")
    print(f"aws s3 sync   (full tree)      {med['aws']:6.2f} s")
    print(f"ratio mia / aws                {med['mia'] / med['aws']:6.2f}x   (target <= 1.0)")
    print(f"mia no-op push, in-process     {med['mia_noop']:6.2f} s   PUT+UploadPart: {med['noop_writes']:.0f} "
          "(targets: 0, < 2 s)")
    print(f"mia no-op push, CLI            {med['mia_noop_cli']:6.2f} s")
    print(f"aws s3 sync no-op              {med['aws_noop']:6.2f} s")
    ok = med["mia"] <= med["aws"] and med["noop_writes"] == 0 and med["mia_noop"] < 2.0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
