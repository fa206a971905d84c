"""Imports point one way (mia <- store <- tools <- agents <- commands/tui); the core never loads a front end."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"mia": 0, "store": 1, "tools": 2, "agents": 3, "commands": 4, "tui": 4}
FRONT_END = {"typer", "rich", "textual"}


def imports_of(path: Path, *, top_level_only: bool = False) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "mia":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "mia"


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_no_module_imports_a_higher_layer(folder: str) -> None:
    problems = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module in imports_of(path):
            target = layer_of(module)
            if target and LAYERS[target] > LAYERS[folder] and target != folder:
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
            if folder in ("mia", "store", "tools", "agents") and module.split(".")[0] in FRONT_END:
                problems.append(f"{path.relative_to(ROOT)} imports front-end library {module}")
    assert problems == []


# Inside agents/: a capability may import those of a lower rank, never one of its own rank or above
# (the same rule as the import-linter contract, checked here too so a plain pytest run sees it).
AGENT_RANKS = {"llm": 0, "research": 1, "outreach": 2, "schedule": 2, "eval": 2, "chat": 3, "cloud": 3}


def test_agents_capabilities_import_only_lower_ones() -> None:
    problems = []
    for package, rank in AGENT_RANKS.items():
        for path in sorted((ROOT / "agents" / package).rglob("*.py")):
            for module in imports_of(path):
                parts = module.split(".")
                if parts[:2] == ["mia", "agents"] and len(parts) > 2 and parts[2] in AGENT_RANKS:
                    other = parts[2]
                    if other != package and AGENT_RANKS[other] >= rank:
                        problems.append(f"{path.relative_to(ROOT)} imports {module}")
    assert problems == []


def test_agents_is_grouped_into_capability_folders() -> None:
    loose = sorted(p.name for p in (ROOT / "agents").glob("*.py") if p.name != "__init__.py")
    assert loose == []
    assert {p.name for p in (ROOT / "agents").iterdir() if p.is_dir() and p.name != "__pycache__"} == set(AGENT_RANKS)


def test_commands_import_the_tui_only_inside_the_chat_command() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "commands").glob("*.py")
                 if any(layer_of(m) == "tui" for m in imports_of(p, top_level_only=True))]
    assert offenders == []


def modules_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    # Run outside the checkout: `python -c` puts the working directory first on sys.path, and the
    # checkout's mia/ folder holds only the root package (the sub-packages live beside it).
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir()).stdout
    return {m.split(".")[0] for m in json.loads(out)}


def test_importing_the_core_loads_no_front_end_library() -> None:
    loaded = modules_after("import mia.settings, mia.store.db, mia.store.runs, mia.tools.search, "
                           "mia.agents.research.service, mia.agents.research.pipeline")
    # rich is left out here only because httpx imports it for its own optional CLI when installed;
    # the AST test above still forbids the core from importing rich itself.
    assert not loaded & {"typer", "textual"}


def test_the_cli_module_does_not_import_heavy_libraries_at_startup() -> None:
    loaded = modules_after("import mia.commands.app")
    assert not loaded & {"httpx", "boto3", "botocore", "textual", "sqlite_utils", "pydantic", "mcp", "mcp_types",
                          "starlette"}


def test_the_installed_package_carries_its_data_files() -> None:
    from importlib.resources import files

    assert (files("mia.tui") / "mia.tcss").is_file()  # the TUI's stylesheet
    assert (files("mia.agents.cloud") / "templates" / "worker.js").is_file()  # the cloud Worker's template
