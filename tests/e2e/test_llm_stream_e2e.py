"""The installed `mia` against fakes that stream the way real models do, including the ways they go wrong."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.chat_llm import ChatLLM
from fakes.research_llm import ResearchLLM, task_of
from fakes.server import FakeServices, LLMReply, ScriptedLLM

from .conftest import Mia

QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


@pytest.fixture
def chat() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def services(chat: ScriptedLLM, research_llm: ResearchLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=ChatLLM(chat, research_llm), stream_pause=0) as fake:
        yield fake


def call(name: str, **arguments: Any) -> LLMReply:
    return LLMReply(tool_calls=[{"name": name, "arguments": arguments}])


def test_ask_with_gpt_oss_which_cannot_stream_on_ai_run_still_answers(mia: Mia, chat: ScriptedLLM,
                                                                      services: FakeServices) -> None:
    chat.push(call("list_agents"), "You have no research agents yet.")
    result = mia.run("ask", "--json", "Which agents do I have?",
                     extra_env={"MIA_LLM_MODEL": "@cf/openai/gpt-oss-120b"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["answer"] == "You have no research agents yet." and out["usage"]["output_tokens"] == 100
    # The first streamed request got JSON; from then on the model was asked without streaming.
    streamed = [bool(r.json.get("stream")) for r in services.requests if r.service == "workers-ai" and r.json]
    assert streamed == [True, False, False]


@pytest.mark.parametrize("form", ["pieces", "whole"])
def test_ask_runs_a_tool_call_that_a_legacy_model_streams_in_pieces_or_whole(mia: Mia, chat: ScriptedLLM,
                                                                             services: FakeServices,
                                                                             form: str) -> None:
    services.native_tool_stream = form
    chat.push(call("search_web", query="eteplirsen confirmatory trial"), "Nothing new this week.")
    result = mia.run("ask", "--json", "Anything new on eteplirsen?",
                     extra_env={"MIA_LLM_MODEL": LLAMA, "MIA_LLM_STREAM_TOOLS": "always"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["tool_calls"] == [{"name": "search_web", "arguments": {"query": "eteplirsen confirmatory trial"},
                                  "ok": True}]
    assert out["answer"] == "Nothing new this week."


def test_ask_after_a_tool_call_sends_the_call_with_string_content(mia: Mia, chat: ScriptedLLM) -> None:
    chat.push(call("list_agents"), "None yet.")
    result = mia.run("ask", "--json", "agents?", extra_env={"MIA_LLM_MODEL": QWEN})
    assert result.returncode == 0, result.stderr  # the fake refuses content: null with 400 5004, as Workers AI does
    sent = chat.calls[-1][0]["messages"]
    assistant = next(m for m in sent if m["role"] == "assistant" and m.get("tool_calls"))
    assert assistant["content"] == ""


def usage_rows(mia_home: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(mia_home / "registry.db")
    conn.row_factory = sqlite3.Row
    return list(conn.execute("SELECT * FROM usage ORDER BY id"))


def test_ask_continues_an_answer_cut_off_at_max_tokens(mia: Mia, chat: ScriptedLLM) -> None:
    chat.push(LLMReply(text="Eteplirsen raised dystrophin", finish_reason="length"), "in treated boys.")
    result = mia.run("ask", "eteplirsen?", extra_env={"MIA_LLM_MODEL": QWEN})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Eteplirsen raised dystrophin in treated boys.\n"
    assert chat.calls[1][0]["messages"][-2] == {"role": "assistant", "content": "Eteplirsen raised dystrophin"}


def test_ask_whose_answer_is_all_reasoning_fails_and_names_the_settings(mia: Mia, chat: ScriptedLLM,
                                                                        mia_home: Any) -> None:
    chat.push(LLMReply(text="<think>Let me weigh", finish_reason="length"),
              LLMReply(text="<think>Still weighing", finish_reason="length"))
    result = mia.run("ask", "eteplirsen?", extra_env={"MIA_LLM_MODEL": QWEN})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "reasoning and left no answer" in result.stderr and "llm.max_tokens" in result.stderr
    assert "empty answer.)" not in result.stdout + result.stderr
    assert len(usage_rows(mia_home)) == 1 and usage_rows(mia_home)[0]["requests"] == 2  # both attempts paid


def test_ask_against_a_stream_of_keepalives_ends_within_the_bound(mia: Mia, chat: ScriptedLLM,
                                                                  services: FakeServices) -> None:
    services.stream_fault = "keepalive"
    chat.push("Never sent.", "Never sent either.")
    started = time.monotonic()
    result = mia.run("ask", "eteplirsen?", extra_env={"MIA_LLM_MODEL": QWEN, "MIA_LLM_TIMEOUT": "1"})
    assert result.returncode == 1 and time.monotonic() - started < 15
    assert "no content for 1 s" in result.stderr and "llm.timeout" in result.stderr
    assert services.count("workers-ai", path_contains="/ai/run/") == 2  # asked once more: nothing was shown


def test_ask_against_a_stream_without_usage_records_an_estimated_cost(mia: Mia, chat: ScriptedLLM,
                                                                      services: FakeServices, mia_home: Any) -> None:
    services.stream_fault = "no_usage"
    chat.push("Eteplirsen raised dystrophin in treated boys.")
    result = mia.run("ask", "--json", "eteplirsen?", extra_env={"MIA_LLM_MODEL": QWEN})
    assert result.returncode == 0, result.stderr
    [row] = usage_rows(mia_home)
    assert row["estimated"] == 1 and row["output_tokens"] > 0 and row["cost_usd"] > 0
    assert json.loads(result.stdout)["usage"]["cost_usd"] > 0


OPENAI = {"MIA_LLM_PROVIDER": "openai", "MIA_LLM_MODEL": "qwen2.5-0.5b-instruct"}


@pytest.mark.parametrize(("fault", "said"), [
    ("interrupt", "another request most likely interrupted it"),
    ("close", "longer than the model's context window"),
])
def test_ask_whose_stream_ends_without_finishing_fails_and_names_the_likely_cause(mia: Mia, chat: ScriptedLLM,
                                                                                  services: FakeServices,
                                                                                  fault: str, said: str) -> None:
    services.stream_fault = fault
    chat.push("Never sent.")
    result = mia.run("ask", "eteplirsen?", extra_env=OPENAI)
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert said in result.stderr


def test_ask_runs_tool_calls_written_one_json_object_per_line_and_never_shows_them(mia: Mia,
                                                                                  chat: ScriptedLLM) -> None:
    chat.push('{"name": "list_agents", "arguments": {}}\n{"name": "list_files", "arguments": {}}', "Nothing yet.")
    result = mia.run("ask", "agents and files?", extra_env=OPENAI)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Nothing yet.\n" and "Agents ✓" in result.stderr and "Files ✓" in result.stderr


def test_ask_whose_model_repeats_its_instructions_fails(mia: Mia, chat: ScriptedLLM) -> None:
    from fakes.chat_llm import system_of

    class Echo(ScriptedLLM):
        def __call__(self, body: dict[str, Any], model: str) -> LLMReply:
            self.calls.append((body, model))
            return LLMReply(text=system_of(body) * 4, finish_reason="length")

    chat.__class__ = Echo
    result = mia.run("ask", "agents?", extra_env=OPENAI)
    assert result.returncode == 1 and "repeated its instructions" in result.stderr


class CutSynthesis(ResearchLLM):
    """Writes the report in two parts: the first cut off at max_tokens, the rest when asked to continue."""

    def __init__(self) -> None:
        super().__init__()
        self.rest = ""

    def __call__(self, body: dict[str, Any], model: str) -> LLMReply:
        task = task_of(body)
        if task == "synthesize-repair" and self.rest:
            return LLMReply(text=self.rest, completion_tokens=80)
        reply = super().__call__(body, model)
        if task != "synthesize":
            return reply
        cut = reply.text.index(" ", len(reply.text) // 2)
        self.rest = reply.text[cut + 1:]
        return LLMReply(text=reply.text[:cut], finish_reason="length")


def test_research_continues_a_report_cut_off_at_max_tokens(mia_home: Any) -> None:
    from .conftest import base_env

    with FakeServices(llm=CutSynthesis(), stream_pause=0) as fake:
        result = Mia({**base_env(mia_home), **fake.env()}).run("research", "DMD treatments", "--depth", "quick",
                                                               "--json")
        assert result.returncode == 0, result.stderr
        synth = [r for r in fake.requests if r.json and "[mia:synthesize]" in json.dumps(r.json)[:3000]]
    assert len(synth) == 2
    report = (mia_home / "workspace" / "agents" / "dmd-treatments" / "report.md").read_text()
    assert "## Open questions" in report and "Long-term durability remains uncertain." in report


def test_research_whose_report_stream_stalls_fails_in_bounds_and_resumes_after(mia_home: Any) -> None:
    from .conftest import base_env

    with FakeServices(llm=ResearchLLM(), stream_pause=0, stream_fault="keepalive") as fake:
        cli = Mia({**base_env(mia_home), **fake.env(), "MIA_LLM_TIMEOUT": "1"})
        started = time.monotonic()
        failed = cli.run("research", "DMD treatments", "--depth", "quick")
        assert failed.returncode == 1 and time.monotonic() - started < 90
        assert "no content for 1 s" in failed.stderr and "llm.timeout" in failed.stderr
        assert "Traceback" not in failed.stderr
        fake.stream_fault = "no_usage"  # the server recovers, but reports no usage in its streams
        resumed = cli.run("agents", "resume", "dmd-treatments", "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["status"] == "done"
    rows = usage_rows(mia_home)
    synth = [r for r in rows if r["step_key"] == "synthesize"]
    assert synth and synth[-1]["estimated"] == 1 and synth[-1]["cost_usd"] > 0


def test_ask_whose_stream_stops_sending_content_keeps_what_was_shown_and_fails(mia: Mia, chat: ScriptedLLM,
                                                                                services: FakeServices) -> None:
    services.stream_fault = "stall"
    chat.push("Eteplirsen raised dystrophin in treated boys, and the confirmatory trial is still running.")
    result = mia.run("ask", "eteplirsen?", extra_env={"MIA_LLM_MODEL": QWEN, "MIA_LLM_TIMEOUT": "1"})
    assert result.returncode == 1 and "no content for 1 s" in result.stderr
    assert result.stdout.startswith("Eteplirsen")  # what arrived stays on screen; it was not asked again
    assert services.count("workers-ai", path_contains="/ai/run/") == 1
