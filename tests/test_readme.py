"""The README documents every setting, and CI runs exactly the README's test command."""

from __future__ import annotations

from pathlib import Path

from mia.settings import SPECS

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_and_its_environment_variable_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [s.key for s in SPECS if f"| `{s.key}` | `{s.env_names[0]}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    command = next(line for line in lines if line.startswith("python3 -m venv .venv") and "pytest" in line)
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
