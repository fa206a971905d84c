"""A loopback model for `mia eval`: answers each PubMedQA question the way its script says.

Keyed by the research question (a PubMedQA title question), a script says what verdict the bottom line gives
(or none: a model that leaves the bottom line out), whether the report cites the gold article (its PMID appears in
the source listing mia sends to synthesis) or another source, whether extracted quotes are copied from the
abstracts or invented, and whether it cites a source number it was never given. Requests follow mia's task tags
([mia:plan], [mia:extract], [mia:synthesize]); replies have the real shapes (JSON mode objects, Markdown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fakes.research_llm import _messages, task_of
from fakes.server import LLMReply

INVENTED_QUOTE = "this sentence appears in no abstract at all"


@dataclass
class Script:
    """How the model answers one question."""

    pmid: str
    verdict: str | None = "Yes"
    cite: str = "gold"  # "gold" or "other"
    quotes: str = "verbatim"  # "verbatim" or "invented"
    bogus_citation: bool = False


class EvalLLM:
    """Callable responder for FakeServices(llm=...); questions without a script get Script(pmid="")."""

    def __init__(self, scripts: dict[str, Script]) -> None:
        self.scripts = scripts

    def __call__(self, body: dict[str, Any], model: str) -> LLMReply:
        task = task_of(body)
        _, user = _messages(body)
        question = user.split("Research question:", 1)[-1].split("\n", 1)[0].strip()
        script = self.scripts.get(question, Script(pmid=""))
        if task.startswith("plan"):  # one sub-question, searched with the question itself
            return LLMReply(data={"sub_questions": [{"question": question, "query": question}]},
                            prompt_tokens=200, completion_tokens=40)
        if task.startswith("extract"):
            claims = []
            for number, _title, snippet in re.findall(r"^\[(\d+)\] \([^)]*\) (.+)\n(.*)$", user, re.MULTILINE):
                quote = " ".join(snippet.split()[:8]) if script.quotes == "verbatim" else INVENTED_QUOTE
                claims.append({"claim": f"Source {number} reports a finding.", "source": int(number),
                               "quote": quote})
            return LLMReply(data={"claims": claims}, prompt_tokens=900, completion_tokens=30 * len(claims))
        if task.startswith("synthesize"):
            return LLMReply(text=self._report(user, script), prompt_tokens=1200, completion_tokens=150)
        return LLMReply(text="I only do research here.")

    @staticmethod
    def _report(user: str, script: Script) -> str:
        listing = user.split("<sources>", 1)[-1].split("</sources>", 1)[0]
        numbers = {ident: int(n) for n, ident in re.findall(r"^\[(\d+)\] \(\w+, (\w+)", listing, re.MULTILINE)}
        gold = numbers.get(script.pmid)
        others = [n for ident, n in numbers.items() if ident != script.pmid]
        cited = gold if script.cite == "gold" and gold else (others[0] if others else 1)
        lines = []
        if script.verdict is not None:
            lines += [f"**Bottom line:** {script.verdict} — the study answers it directly [{cited}].", ""]
        lines += ["## Summary", "", f"The main study is described here [{cited}]."]
        if script.bogus_citation:
            lines.append("A further claim rests on a source nobody retrieved [99].")
        return "\n".join(lines) + "\n"
