"""What a person reads of a tool call or a finished run: whole sentences, no internal tool names."""

from __future__ import annotations

from mia.agents.chat.tool_registry import brief


def test_a_long_result_keeps_whole_sentences() -> None:
    text = ("Research agent 'duchenne-muscular-dystrophy-exon-skipping-therapies' started on the question. "
            "It runs in the background and writes a cited report; a notice will arrive when it finishes.")
    note = brief(text, limit=120)
    assert note == "Research agent 'duchenne-muscular-dystrophy-exon-skipping-therapies' started on the question."


def test_one_sentence_too_long_is_cut_at_a_word_with_an_ellipsis() -> None:
    note = brief("word " * 60, limit=50)
    assert note.endswith("…") and len(note) <= 51 and "wor…" not in note


def test_a_finished_run_message_names_no_internal_tool() -> None:
    from types import SimpleNamespace
    from typing import Any

    from mia.agents.chat.background import BackgroundJob, _outcome

    result = SimpleNamespace(agent=SimpleNamespace(slug="dmd", report_version=2), usage={"cost_usd": 0.01},
                             status="done", sources=12, report_path="/w/agents/dmd/report.md")

    def work(registry: Any, http: Any) -> Any:
        return result

    status, message = _outcome(BackgroundJob("research", "dmd", None), work, None, None)  # type: ignore[arg-type]
    assert status == "done" and "read_report" not in message and message.endswith("report.md.")
