"""A loopback model that does mia's research tasks deterministically: plan, extract, synthesize.

It reads the task tag mia puts in its system prompts ([mia:plan], [mia:extract], [mia:synthesize]),
answers in the shapes a real model would (JSON mode objects, Markdown with [n] citations), and can be
told to misbehave the ways real models do: cite a source it was never given, return invalid JSON once,
write invented links and ids in the report (`invented_ids`), give quotes that are missing, made up or taken
from another source than the one named (`quotes`), answer the plan in prose (`prose_plans`), wrap JSON in
chatter with an example block first (`chatty_json`).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from typing import Any

from fakes.server import LLMReply

GAP_FACETS = ("utrophin modulators", "vamorolone", "givinostat")  # what a second look searches for, in order
FACETS = ("gene therapy", "exon skipping", "corticosteroids", "cardiomyopathy", "dystrophin",
          "natural history", "ambulatory", "safety", "muscle", "givinostat", "vamorolone", "utrophin")


def _messages(body: dict[str, Any]) -> tuple[str, str]:
    messages = body.get("messages") or []
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    user = "\n".join(m["content"] for m in messages if m.get("role") == "user")
    return system, user


def task_of(body: dict[str, Any]) -> str:
    """plan | extract | synthesize | repair | other: which research step a request belongs to."""
    system, _ = _messages(body)
    roles = [m.get("role") for m in body.get("messages") or []]
    match = re.search(r"\[mia:(\w+)\]", system)
    task = match.group(1) if match else "other"
    return f"{task}-repair" if roles.count("assistant") else task


class ResearchLLM:
    """Callable responder for FakeServices(llm=...), counting the tasks it served."""

    def __init__(self, *, bogus_citation: int | None = None, invalid_json_once: str | None = None,
                 sub_questions: int | None = None, tokens: int = 120, plain_queries: bool = False,
                 cite_backwards: bool = False, invented_ids: bool = False, quotes: str = "real",
                 prose_plans: int = 0, chatty_json: bool = False, verdict: str | None = "Yes",
                 bottom_line_at: str = "top", uncited: bool = False, synthesis_end: str = "stop",
                 gap_queries: int = 0) -> None:
        self.bogus_citation = bogus_citation
        self.invalid_json_once = invalid_json_once
        self.sub_questions = sub_questions
        self.tokens = tokens
        self.plain_queries = plain_queries  # queries repeat the question without adding search facets
        # Real models cite by relevance, not by the listing's order: a report may open with [17].
        self.cite_backwards = cite_backwards
        self.invented_ids = invented_ids
        self.quotes = quotes  # real | missing | invented | wrong_source | empty_claims
        self.prose_plans = prose_plans  # how many plan requests get clarifying prose instead of JSON
        self.chatty_json = chatty_json
        self.gap_queries = gap_queries  # follow-up searches the second look proposes (0: the evidence is complete)
        self.verdict = verdict  # None: the model leaves the bottom line out
        self.bottom_line_at = bottom_line_at  # "top", or "end" (a model that ignores where it was asked to put it)
        self.uncited = uncited  # a report that cites nothing, as small models write them
        # "stop"; "length": every synthesis reply cut at max_tokens; "think": only an unclosed <think> block
        self.synthesis_end = synthesis_end
        self.tasks: Counter[str] = Counter()
        self.hold: dict[str, threading.Event] = {}  # a task named here waits until its event is set
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any], model: str) -> LLMReply:
        task = task_of(body)
        with self._lock:
            self.tasks[task] += 1
            broken = task == self.invalid_json_once
            if broken:
                self.invalid_json_once = None
        gate = self.hold.get(task)
        if gate is not None:
            gate.wait(timeout=60)
        system, user = _messages(body)
        if broken:
            return LLMReply(text='{"sub_questions": "not a list"', prompt_tokens=self.tokens)
        if task.startswith("plan"):
            with self._lock:
                prose = self.prose_plans > 0
                self.prose_plans -= 1 if prose else 0
            if prose:  # what small models did: clarifying questions instead of the JSON plan
                return LLMReply(text="Could you clarify which aspect of the question matters most to you: "
                                     "efficacy, safety, or ongoing trials?", prompt_tokens=self.tokens)
            return self._chatty(self._plan(system, user))
        if task.startswith("extract"):
            return self._chatty(self._extract(user))
        if task.startswith("synthesize"):
            return self._synthesize(user)
        if task.startswith("gaps"):
            return self._gaps(user)
        return LLMReply(text="I can only help with research here.", prompt_tokens=self.tokens)

    def _gaps(self, user: str) -> LLMReply:
        """A second look: `gap_queries` follow-ups on facets not searched yet (none once they are all used)."""
        question = user.split("Research question:", 1)[-1].split("\n", 1)[0].strip()
        searched = user.split("<searched>", 1)[-1].split("</searched>", 1)[0]
        unused = [facet for facet in GAP_FACETS if f"(query: {facet})" not in searched][: self.gap_queries]
        follow = [{"question": f"What is known about {facet} in {question}?", "query": facet} for facet in unused]
        return LLMReply(data={"missing": [f"evidence on {facet}" for facet in unused], "contradictions": [],
                              "follow_ups": follow}, prompt_tokens=self.tokens * 2,
                        completion_tokens=30 + 20 * len(unused))

    def _plan(self, system: str, user: str) -> LLMReply:
        n = self.sub_questions or int((re.search(r"into (\d+) focused", system) or [0, 3])[1])
        question = user.split("Research question:", 1)[-1].strip()
        subs = [{"question": f"What is known about {question} and {facet}?",
                 "query": question if self.plain_queries else f"{question} {facet}"} for facet in FACETS[:n]]
        return LLMReply(data={"sub_questions": subs}, prompt_tokens=self.tokens, completion_tokens=60 * n)

    def _extract(self, user: str) -> LLMReply:
        claims: list[dict[str, Any]] = []
        found = re.findall(r"^\[(\d+)\] \([^)]*\) (.+)\n(.*)$", user, re.MULTILINE)
        full = dict(re.findall(r"^\[(\d+)\] \([^)]*\) .+\n.*\n\[Full text, [^\]]+\] (.*)$", user, re.MULTILINE))
        for k, (number, title, snippet) in enumerate(found):
            # A source shown with full-text passages is quoted from its first passage, as a reader would.
            quote = " ".join((full.get(number) or snippet).split()[:8]) or title
            claim: dict[str, Any] = {"claim": f"{title.rstrip('.')} is relevant to the question.",
                                     "source": int(number), "quote": quote}
            if self.quotes == "missing":
                del claim["quote"]
            elif self.quotes == "invented":
                claim["quote"] = "a miraculous cure was observed in every single patient"
            elif self.quotes == "wrong_source" and len(found) > 1:  # quote of one source, number of the next
                claim["source"] = int(found[(k + 1) % len(found)][0])
            claims.append(claim)
        if self.quotes == "empty_claims":
            claims = []
        return LLMReply(data={"claims": claims}, prompt_tokens=self.tokens * 3, completion_tokens=40 * len(claims))

    def _chatty(self, reply: LLMReply) -> LLMReply:
        """With `chatty_json`: prose with braces, an example block, then the real answer in a fence."""
        if not self.chatty_json or reply.data is None:
            return reply
        text = ("Sure {happy to help}! The format looks like this:\n```json\n{\"example\": true}\n```\n"
                "And here is the answer:\n```json\n" + json.dumps(reply.data) + "\n```\nHope that helps.")
        return LLMReply(text=text, prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)

    def _synthesize(self, user: str) -> LLMReply:
        if self.synthesis_end == "think":
            return LLMReply(text="<think>Let me weigh every source carefully " + "and again " * 60,
                            finish_reason="length", prompt_tokens=self.tokens * 5)
        if self.synthesis_end == "length":
            return LLMReply(text="## Summary\n\nGene therapy for DMD [1] has shown that", finish_reason="length",
                            prompt_tokens=self.tokens * 5)
        if self.uncited:
            return LLMReply(text="## Summary\n\nDMD treatments include several options that are being studied.\n",
                            prompt_tokens=self.tokens * 5, completion_tokens=40)
        listing = user.split("<sources>", 1)[-1].split("</sources>", 1)[0]
        numbers = [int(n) for n in re.findall(r"^\[(\d+)\]", listing, re.MULTILINE)]
        if self.cite_backwards:
            numbers.reverse()
        bottom = []
        if self.verdict is not None and numbers:
            bottom = [f"**Bottom line:** {self.verdict} — the retrieved literature points this way [{numbers[0]}].", ""]
        lines = [*(bottom if self.bottom_line_at == "top" else []), "## Summary", ""]
        if numbers:
            lines.append(f"The retrieved literature covers {len(numbers)} sources [{numbers[0]}].")
        for n in numbers[1:6]:
            lines.append(f"- Finding supported by source {n} [{n}].")
        if self.invented_ids:  # every form of invented identifier, plus one real source written as a link
            lines += ["- See [the trial paper](https://journal.example/doi/10.5555/xyz) and "
                      "https://doi.org/10.5555/abc.123.",
                      "- As reported [7](https://example.org/page) [PMID: 38999999] (NCT09999999) [1, 2, 99]."]
            real = re.search(r"^\[(\d+)\] \(trial, (NCT\d{8})", listing, re.MULTILINE)
            if real:
                lines.append(f"- The trial {real.group(2)} is registered "
                             f"[here](https://clinicaltrials.gov/study/{real.group(2)}?utm_source=x).")
        if self.bogus_citation is not None:
            lines.append(f"- A striking claim that no retrieved source supports [{self.bogus_citation}].")
        lines += ["", "## Open questions", "", "Long-term durability remains uncertain."]
        if self.bottom_line_at == "end":
            lines += ["", *bottom]
        lines += ["", "## References", "", "[1] Made-up reference list that mia must drop."]
        return LLMReply(text="\n".join(lines) + "\n", prompt_tokens=self.tokens * 5, completion_tokens=400)
