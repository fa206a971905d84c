"""Run the loopback fake services by hand: prints `export` lines for mia, serves until SIGINT/SIGTERM.

    python tests/fakes/__main__.py --port 8765 --latency-llm 0.5      (or: cd tests && python -m fakes)

Paste the printed lines into the shell that runs mia (or `source` them from a file).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m fakes", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--latency-llm", type=float, default=0.0, help="seconds before each LLM answer")
    parser.add_argument("--latency-search", type=float, default=0.0,
                        help="seconds before each Perplexity, PubMed, Europe PMC and CT.gov answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered 429/503")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault dice")
    parser.add_argument("--llm-shape", choices=("legacy", "openai", "auto"), default="legacy",
                        help="Workers AI result shape")
    parser.add_argument("--stream-pause", type=float, default=0.0005,
                        help="seconds between streamed pieces (0.02 looks like a real model)")
    parser.add_argument("--stream-fault", default="", choices=("", "interrupt", "close", "keepalive", "stall",
                                                                "no_usage"),
                        help="make every LLM stream end badly this way (see fakes/llm_dialects.py)")
    parser.add_argument("--context-limit", type=int, default=0,
                        help="refuse LLM prompts over this many tokens, as each service does (0 = no limit)")
    parser.add_argument("--llm", default="", metavar="MODULE:FUNCTION",
                        help="LLM responder instead of the fixed echo, e.g. fakes.research_llm:ResearchLLM")
    return parser.parse_args(argv)


def load_responder(spec: str) -> Any:
    """Import `module:name`; a class is instantiated with no arguments (e.g. fakes.research_llm:ResearchLLM)."""
    module, _, name = spec.partition(":")
    responder = getattr(importlib.import_module(module), name or "respond")
    return responder() if isinstance(responder, type) else responder


def main(argv: list[str] | None = None) -> int:
    """Start the fake, print the environment, wait for a signal."""
    if __package__ in (None, ""):  # run as a script: make `fakes` importable from tests/
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fakes.server import LLM_SERVICES, SEARCH_SERVICES, FakeServices

    args = parse_args(argv)
    latency = {name: args.latency_llm for name in LLM_SERVICES}
    latency.update({name: args.latency_search for name in SEARCH_SERVICES})
    fake = FakeServices(port=args.port, latency=latency, fault_rate=args.fault_rate, seed=args.seed,
                        llm_shape=args.llm_shape, llm=load_responder(args.llm) if args.llm else None,
                        stream_pause=args.stream_pause, stream_fault=args.stream_fault,
                        context_limit=args.context_limit)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with fake:
        for name, value in fake.env().items():
            print(f"export {name}={shlex.quote(value)}")
        sys.stdout.flush()
        print(f"fake services listening on {fake.url}; Ctrl-C to stop", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    print(f"served {len(fake.requests)} requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
