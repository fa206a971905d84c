"""`--help` shows flags as people type them, and the defaults that come from settings."""

from __future__ import annotations

import pytest

from mia.commands.app import main


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    assert main([*command, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [("research",), ("inbox", "read"), ("agents", "delete"), ("config", "set"),
                                     ("triggers", "add"), ("chat",)])
def test_no_python_type_labels_or_braces(capsys: pytest.CaptureFixture[str], command: tuple[str, ...]) -> None:
    text = help_of(capsys, *command)
    for label in ("<bool>", "<str>", "<list[int]>", "<float>", "<int>", "{"):
        assert label not in text, (label, command)


def test_research_help_names_its_arguments_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of(capsys, "research").split())
    assert "[OPTIONS] QUESTION" in text and "--budget NUMBER" in text
    for default in ("research.sources setting", "research.depth setting (initially standard)",
                    "research.budget_usd setting (initially 0.50)"):
        assert default in text


@pytest.mark.parametrize("command", [("research",), ("triggers", "add")])
def test_filter_help_lists_every_value_whole_at_80_columns(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           command: tuple[str, ...]) -> None:
    from mia.filters import ARTICLE_TYPES, TRIAL_PHASES, TRIAL_STATUSES

    monkeypatch.setenv("COLUMNS", "80")
    text = help_of(capsys, *command)
    assert "…" not in text and ",..." not in text  # a list without spaces is cut at the column, not wrapped
    words = set(text.replace(",", " ").replace(".", " ").split())
    for value in (*ARTICLE_TYPES, *TRIAL_STATUSES, *(p for p in TRIAL_PHASES if p != "0")):
        assert value in words, value


def test_prose_in_help_flows_instead_of_keeping_the_sources_line_breaks(capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    lines = [line.strip() for line in help_of(capsys, "export").splitlines()]
    # The paragraph fills each line: no line of it stops half-way because the docstring broke there.
    paragraph = lines[lines.index(next(x for x in lines if x.startswith("html is one"))):]
    paragraph = paragraph[:paragraph.index("")]
    assert len(paragraph) <= 6 and all(len(line) > 60 for line in paragraph[:-1])
    assert "pip install 'mia[export]'" in " ".join(paragraph)  # [export] is text, not Rich markup
