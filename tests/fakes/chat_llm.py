"""A loopback model for the Interaction Agent: [mia:chat] turns go to a script (or rules), the rest to ResearchLLM.

    cd tests && python -m fakes --llm fakes.chat_llm:ChatLLM      (a chat-capable fake for trying `mia chat`)
"""

from __future__ import annotations

import re
from typing import Any

from fakes.research_llm import ResearchLLM
from fakes.server import LLMReply, ScriptedLLM

CHAT_TAG = "[mia:chat]"


def system_of(body: dict[str, Any]) -> str:
    """The request's system prompt ('' if none)."""
    return next((m.get("content") or "" for m in body.get("messages") or [] if m.get("role") == "system"), "")


def is_chat(body: dict[str, Any]) -> bool:
    """True for the Interaction Agent's own requests."""
    return CHAT_TAG in system_of(body)


class ChatLLM:
    """Routes the Interaction Agent's requests to `chat` (a ScriptedLLM, or rules) and the rest to `research`."""

    def __init__(self, chat: ScriptedLLM | None = None, research: ResearchLLM | None = None) -> None:
        self.chat = chat
        self.research = research or ResearchLLM()
        self.chat_bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any], model: str) -> LLMReply:
        if not is_chat(body):
            return self.research(body, model)
        self.chat_bodies.append(body)
        return self.chat(body, model) if self.chat is not None else rules(body)


def rules(body: dict[str, Any]) -> LLMReply:
    """A tiny rule-based assistant: enough to try every tool by hand."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {"role": "user", "content": ""}
    content = str(last.get("content") or "")
    if last.get("role") == "tool":
        name = (re.search(r'<tool_result name="([^"]+)"', content) or [None, "tool"])[1]
        inner = re.sub(r"</?tool_result[^>]*>|\(Everything inside this tool_result[^)]*\)", "", content).strip()
        return LLMReply(text=f"Here is what **{name}** returned:\n\n" + "\n".join(
            f"> {line}" for line in inner.splitlines()[:20]))
    text = content.strip()
    lower = text.lower()
    if lower.startswith("[notice from mia"):
        return LLMReply(text="Noted. " + text.split("]", 1)[-1].strip())
    if lower.startswith("research "):
        return _call("spawn_research", question=text[len("research "):], depth="quick")
    if "agents" in lower:
        return _call("list_agents")
    if lower.startswith("report "):
        return _call("read_report", agent=text.split()[-1])
    if lower.startswith("search "):
        return _call("search_web", query=text[len("search "):])
    if "files" in lower:
        return _call("list_files")
    return LLMReply(text=_essay(text))


def _call(name: str, **arguments: Any) -> LLMReply:
    return LLMReply(tool_calls=[{"name": name, "arguments": arguments}])


def _essay(text: str) -> str:
    points = "\n".join(f"- Point {n}: a consideration about *{text[:40]}* worth a closer look." for n in range(1, 6))
    return (f"## About “{text[:60]}”\n\nThis is the fake model's answer, in **Markdown**.\n\n{points}\n\n"
            "| option | evidence |\n|---|---|\n| A | moderate |\n| B | thin |\n\nAsk `research …` to start an agent.")
