"""Tool calls written as text by weaker models, and a gate that streams an answer without showing them."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from mia.agents.llm.shapes import ToolCall, parse_arguments
from mia.agents.llm.stream import partial_suffix

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*\n?(.*?)```", re.DOTALL)
TAG, FENCE = "<tool_call>", "```"


def parse_text_tool_calls(text: str) -> list[ToolCall]:
    """Tool calls a weaker model wrote as JSON in its text: bare, fenced, or in <tool_call> tags.

    Inside each, the forms small models write: one JSON value, one object per line, several objects
    separated by commas, and JSON with HTML-escaped quotes (`{&quot;name&quot;: …}`).
    """
    stripped = text.strip()
    candidates = _TAGGED.findall(stripped) or _FENCED.findall(stripped)
    if not candidates and stripped[:1] in ("{", "["):
        candidates = [stripped]
    found: list[ToolCall] = []
    for candidate in candidates:
        for value in _json_values(candidate) or _json_values(html.unescape(candidate)):
            for item in value if isinstance(value, list) else [value]:
                _add_call(found, item)
    return found


def _json_values(text: str) -> list[Any]:
    """The JSON values `text` consists of, separated by whitespace or commas; [] if anything else is there."""
    decoder, index = json.JSONDecoder(), 0
    values: list[Any] = []
    while True:
        while index < len(text) and (text[index].isspace() or (values and text[index] == ",")):
            index += 1
        if index == len(text):
            return values
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            return []
        values.append(value)


def _add_call(found: list[ToolCall], item: Any) -> None:
    if not isinstance(item, dict):
        return
    function = item["function"] if isinstance(item.get("function"), dict) else item
    name = function.get("name")
    if not isinstance(name, str) or not ({"arguments", "parameters"} & set(function)):
        return
    arguments, raw = parse_arguments(function.get("arguments", function.get("parameters")))
    found.append(ToolCall(id=f"{len(found) + 1:09d}", name=name, arguments=arguments, raw_arguments=raw))


class ToolTextGate:
    """Passes streamed answer text on at once, except what may turn out to be a tool call written as text.

    Held back: a reply that opens with `{` or `[` (a bare JSON call), everything from a `<tool_call>` tag on,
    and a fenced block until its closing fence shows whether it is a call (ordinary code blocks then follow).
    """

    def __init__(self, emit: Callable[[str], object]) -> None:
        self.emit = emit
        self.text = ""
        self.shown = 0  # text[:shown] has been passed on
        self.holding = False  # from text[shown:] on, nothing more is passed on until finish

    def feed(self, piece: str) -> None:
        """Take one streamed piece of visible text."""
        self.text += piece
        while not self.holding and self._step():
            pass

    def finish(self) -> list[ToolCall]:
        """The stream ended: the calls written as text, or none (and the held text is passed on)."""
        calls = parse_text_tool_calls(self.text)
        if not calls:
            self._pass(len(self.text))
        return calls

    def _step(self) -> bool:
        """Pass on what is safe now; True when another look is needed (a fenced block was released)."""
        rest = self.text[self.shown:]
        if not self.text[:self.shown].strip():  # nothing visible yet: wait for the first character
            first = rest.lstrip()[:1]
            if not first:
                return False
            if first in ("{", "["):
                self.holding = True
                return False
        tag, fence = rest.find(TAG), rest.find(FENCE)
        if tag != -1 and (fence == -1 or tag < fence):
            self._pass(self.shown + tag)
            self.holding = True
            return False
        if fence != -1:
            self._pass(self.shown + fence)
            close = rest.find(FENCE, fence + len(FENCE))
            if close == -1:
                return False  # wait for the closing fence
            end = self.shown + (close - fence) + len(FENCE)
            if parse_text_tool_calls(self.text[self.shown:end]):
                self.holding = True
                return False
            self._pass(end)
            return True
        keep = max(partial_suffix(rest, TAG), partial_suffix(rest, FENCE))
        self._pass(len(self.text) - keep)
        return False

    def _pass(self, end: int) -> None:
        if end > self.shown:
            self.emit(self.text[self.shown:end])
            self.shown = end
