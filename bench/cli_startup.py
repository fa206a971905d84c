"""How long `mia --help` takes, against a minimal Typer app with the same command groups.

Both are measured in the same run, interleaved, as the median of N wall times; the figure is the ratio
(target <= 1.3). Run: python bench/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = '''
import typer
app = typer.Typer(help="mia", pretty_exceptions_show_locals=False)
for group in ("config", "agents"):
    sub = typer.Typer(help=group)
    @sub.command("list")
    def _list() -> None:
        """List."""
    app.add_typer(sub, name=group)
for name in ("research", "usage", "doctor"):
    @app.command(name)
    def _cmd() -> None:
        """A command."""
if __name__ == "__main__":
    app()
'''


def time_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    mia = shutil.which("mia") or str(Path(sys.executable).parent / "mia")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline_app.py"
        baseline.write_text(BASELINE)
        env = {**os.environ, "MIA_HOME": str(Path(tmp) / "home"), "MIA_CONFIG": str(Path(tmp) / "c.toml")}
        for argv in ([mia, "--help"], [sys.executable, str(baseline), "--help"]):  # warm the caches
            time_once(argv, env)
        mia_times, base_times = [], []
        for _ in range(args.runs):
            mia_times.append(time_once([mia, "--help"], env))
            base_times.append(time_once([sys.executable, str(baseline), "--help"], env))
    mia_ms, base_ms = statistics.median(mia_times) * 1000, statistics.median(base_times) * 1000
    print(f"mia --help:            {mia_ms:7.1f} ms (median of {args.runs})")
    print(f"minimal Typer app:     {base_ms:7.1f} ms (median of {args.runs})")
    print(f"ratio:                 {mia_ms / base_ms:7.2f}  (target <= 1.3)")


if __name__ == "__main__":
    main()
