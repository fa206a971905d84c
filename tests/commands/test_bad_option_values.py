"""A value of the wrong type on the command line is said in plain words, not in pydantic's (Typer ≥ 0.2x
checks option types with pydantic and passes its message through: "Input should be a valid number, unable to
parse string as a number")."""

from __future__ import annotations

import pytest

from mia.commands.app import main


@pytest.mark.parametrize(("args", "words"), [
    (("research", "DMD", "--budget", "abc"), "'--budget': 'abc' is not a number"),
    (("research", "DMD", "--since", "abc"), "'--since': 'abc' is not a whole number"),
    (("research", "DMD", "--until", "2020.5"), "'--until': '2020.5' is not a whole number"),
    (("report", "some-agent", "--version", "two"), "'two' is not a whole number"),
])
def test_a_bad_number_is_a_usage_error_in_plain_words(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                                      words: str) -> None:
    code = main(list(args))
    err = capsys.readouterr().err
    assert code == 2, err
    assert words in err
    assert "Input should be" not in err and "unable to parse" not in err
    assert "Traceback" not in err
