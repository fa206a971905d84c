"""How long `mia --help` takes, against a minimal Typer app with the same command groups and commands.

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


def baseline_source() -> str:
    """A Typer app with mia's command groups and command names (read from mia's own app), and nothing else."""
    import typer

    from mia.commands.app import app

    lines = ["import typer", 'app = typer.Typer(help="mia", pretty_exceptions_show_locals=False)']
    for info in app.registered_groups:
        sub = info.typer_instance
        assert isinstance(sub, typer.Typer)
        names = [c.name or (c.callback.__name__ if c.callback else "x") for c in sub.registered_commands]
        lines.append(f"g = typer.Typer(help={info.name!r})")
        for name in names:
            lines.append(f"g.command({name!r})(lambda: None)")
        lines.append(f"app.add_typer(g, name={info.name!r})")
    for command in app.registered_commands:
        lines.append(f"app.command({command.name!r})(lambda: None)")
    lines += ['if __name__ == "__main__":', "    app()"]
    return "\n".join(lines) + "\n"


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
        baseline.write_text(baseline_source())
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
