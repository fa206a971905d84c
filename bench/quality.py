"""The quality figure: `mia eval pubmedqa --offline --n 50` with the configured LLM, and its figures.

With Workers AI credentials (CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN) or an OpenAI-compatible server
(llm.provider = openai, llm.base_url, e.g. a local llama.cpp), this measures the real model. Without either,
`--fakes` runs the same command against the loopback fakes (a scripted model that always answers "Yes"): that
checks the plumbing and the scorer, not the quality of any model.
Run: python bench/quality.py [--n 50] [--split test|dev] [--fakes]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

MIA = str(Path(sys.executable).parent / "mia")
ROWS = (("accuracy", "verdict accuracy", "pct"), ("gold_retrieved", "gold PMID retrieved", "pct"),
        ("gold_cited", "gold PMID cited", "pct"), ("quotes_verified", "quotes verified", "pct"),
        ("identifiers_removed", "identifiers removed", "int"), ("cost_per_question", "cost per question", "usd"),
        ("seconds_per_question", "wall time per question", "sec"))


def run_eval(n: int, split: str, env: dict[str, str]) -> dict:
    result = subprocess.run([MIA, "eval", "pubmedqa", "--offline", "--n", str(n), "--split", split, "--json"],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        sys.exit(result.returncode)
    return json.loads(result.stdout)


def show(record: dict) -> None:
    figures = record["figures"]
    print(f"PubMedQA {record['split']} split, {figures['questions']} questions, offline index; model "
          f"{record['model']} ({record['provider']}); mia {record['mia_version']}; {record['finished_at']}")
    for key, label, kind in ROWS:
        value = figures[key]
        text = "-" if value is None else {"pct": f"{value * 100:.1f}%", "int": str(value), "usd": f"${value:.4f}",
                                          "sec": f"{value:.1f} s"}[kind]
        print(f"  {label:<24}{text:>10}")
    print(f"  {'total cost':<24}{'$' + format(figures['cost_usd'], '.4f'):>10}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--split", default="test")
    parser.add_argument("--fakes", action="store_true", help="use the loopback fakes instead of a real model")
    args = parser.parse_args()
    if not args.fakes:
        show(run_eval(args.n, args.split, dict(os.environ)))
        return
    from fakes.research_llm import ResearchLLM
    from fakes.server import FakeServices

    with tempfile.TemporaryDirectory() as tmp, FakeServices(llm=ResearchLLM()) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MIA_", "CLOUDFLARE_"))}
        env.update({**fake.env(), "MIA_HOME": str(Path(tmp) / "home"), "MIA_CONFIG": str(Path(tmp) / "c.toml")})
        show(run_eval(args.n, args.split, env))


if __name__ == "__main__":
    main()
