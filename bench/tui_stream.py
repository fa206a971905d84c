"""The chat app under Pilot: how far a streamed answer lags behind, and how fast a long conversation opens.

(a) A 4,000-token Markdown answer is fed at 200 tokens/s (from a thread, as the Interaction Agent's worker
    does) into the conversation. Reported: the lag from the last token to its render (absolute, and divided
    by the stream's duration; target < 100 ms), against the baseline of rendering the same Markdown once.
(b) A 500-message conversation is opened in the running app (target < 1 s), against opening an empty one.

Run: python bench/tui_stream.py [--tokens 4000] [--rate 200] [--messages 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SENTINEL = "ENDOFSTREAM"


def markdown_tokens(n: int) -> list[str]:
    """n word-sized pieces of varied Markdown: headings, paragraphs, lists, a table, code; the last is a sentinel."""
    words = ["dystrophin", "exon", "skipping", "restores", "a", "truncated", "protein", "while", "gene", "therapy",
             "adds", "micro-dystrophin"]
    pieces: list[str] = []
    section = 0
    while len(pieces) < n - 1:
        section += 1
        pieces += [f"\n\n## Section {section}\n\n"]
        pieces += [w + " " for w in words * 3]
        pieces += ["\n\n"] + [f"- item {i} with **bold** and `code`\n" for i in range(6)]
        pieces += ["\n| trial | phase | n |\n|---|---|---|\n"] + [f"| NCT0{i} | 3 | {i * 40} |\n" for i in range(4)]
        pieces += ["\n```python\n", "x = 1\n", "```\n\n"]
    pieces = pieces[:n - 1]
    if sum(piece.startswith("\n```") for piece in pieces) > sum(piece == "```\n\n" for piece in pieces):
        pieces[-1] = "\n```\n"  # close an open code fence so the sentinel lands in a paragraph of its own
    return [*pieces, f"\n\n{SENTINEL}."]


def rendered(block: Any) -> bool:
    """True once the sentinel is in what the widget renders: an AnswerBlock's live tail, or a stored answer."""
    content = getattr(block, "live", block).content
    return SENTINEL in getattr(content, "markup", "")


async def painted(widget: Any) -> float:
    """The perf_counter time at which the screen next finished refreshing the widget."""
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    widget.call_after_refresh(lambda: done.done() or done.set_result(time.perf_counter()))
    return await done


async def wait_until(condition: Any, step: float = 0.002, timeout: float = 120.0) -> float:
    """Poll on the app's loop; returns the perf_counter time at which the condition first held."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(step)
    return time.perf_counter()


def feed(app: Any, turn: int, pieces: list[str], rate: float, stamps: dict[str, float]) -> None:
    """Post the pieces at `rate` per second, the way the worker thread posts answer text."""
    start = time.perf_counter()
    stamps["first"] = start
    for index, piece in enumerate(pieces):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        app.post_message(app.AnswerText(turn, piece))
    stamps["last"] = time.perf_counter()


async def stream_lag(app: Any, pilot: Any, tokens: int, rate: float) -> dict[str, float]:
    """Stream into the live app; return duration, lag and the render-once baseline."""
    from mia.tui.widgets import HistoryAnswer

    pieces = markdown_tokens(tokens)
    app.turn += 1
    stamps: dict[str, float] = {}
    thread = threading.Thread(target=feed, args=(app, app.turn, pieces, rate, stamps), daemon=True)
    thread.start()
    await wait_until(lambda: app.answer_block is not None)
    await wait_until(lambda: "last" in stamps and rendered(app.answer_block))
    done_at = await painted(app.answer_block.live)
    thread.join()
    app.answer_block.finish()
    await app.answer_block.shown()
    duration = stamps["last"] - stamps["first"]
    lag = done_at - stamps["last"]
    start = time.perf_counter()
    once = HistoryAnswer("".join(pieces))  # the same answer, rendered once as a stored one
    await app.view.add(once)
    once_at = await painted(once)
    return {"duration": duration, "lag": lag, "once": once_at - start}


async def open_time(app: Any, conversation_id: str) -> float:
    """Seconds from asking for a conversation to its messages being mounted."""
    start = time.perf_counter()
    app.switch_conversation(conversation_id)
    await wait_until(lambda: app.conversation is not None and app.conversation.id == conversation_id
                     and not app.loading, step=0.001)
    return time.perf_counter() - start


def fill(registry: Any, messages: int) -> tuple[str, str]:
    """A long conversation (user, tool, assistant Markdown, now and then an event) and an empty one."""
    from mia.store import conversations as conv_store

    long = conv_store.create_conversation(registry, "long")
    for n in range(messages):
        role = ("user", "tool", "assistant", "assistant", "event")[n % 5]
        text = f"## Answer {n}\n\nSome **Markdown** with a list:\n\n- a [{n}]\n- b\n" if role == "assistant" \
            else f"message {n}"
        calls = {"name": "list_agents", "ok": True} if role == "tool" else None
        conv_store.add_message(registry, long.id, role, text, tool_calls=calls)
    empty = conv_store.create_conversation(registry, "empty")
    return long.id, empty.id


async def run(args: argparse.Namespace) -> None:
    from mia.settings import load_settings
    from mia.store.db import open_registry
    from mia.tui.app import create_app

    settings = load_settings()
    registry = open_registry(settings.registry_path)
    long_id, empty_id = fill(registry, args.messages)
    registry.close()

    def no_llm(http: Any) -> Any:
        raise RuntimeError("the benchmark never asks the model")

    app = create_app(settings, lambda: open_registry(settings.registry_path), no_llm, conversation_id=empty_id)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(lambda: not app.loading)
        s = await stream_lag(app, pilot, args.tokens, args.rate)
        empties = [await open_time(app, empty_id) for _ in range(3)]
        longs = [await open_time(app, long_id) for _ in range(3)]
    print(f"(a) streamed {args.tokens} tokens at {args.rate:.0f} tokens/s over {s['duration']:.2f} s: "
          f"lag after the last token {s['lag'] * 1000:.0f} ms (target < 100 ms), "
          f"{s['lag'] / s['duration']:.4f} of the stream's duration; "
          f"baseline render-once {s['once'] * 1000:.0f} ms, lag/baseline {s['lag'] / s['once']:.2f}")
    best_long, best_empty = min(longs), min(empties)
    print(f"(b) opening a {args.messages}-message conversation: {best_long * 1000:.0f} ms (target < 1000 ms; "
          f"runs {', '.join(f'{t * 1000:.0f}' for t in longs)}); empty conversation {best_empty * 1000:.0f} ms; "
          f"ratio {best_long / best_empty:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["MIA_HOME"] = home
        os.environ["MIA_CONFIG"] = str(Path(home) / "config.toml")
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
