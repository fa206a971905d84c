"""End-to-end fixtures: loopback fakes of every service and the installed `mia` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

MIA = str(Path(sys.executable).parent / "mia")


@dataclass
class Mia:
    """Runs the installed mia against the fakes, with its own MIA_HOME."""

    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120, extra_env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MIA, *args], capture_output=True, text=True, timeout=timeout,
                              env={**self.env, **(extra_env or {})}, stdin=subprocess.DEVNULL)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([MIA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, stdin=subprocess.DEVNULL)


@pytest.fixture
def research_llm() -> ResearchLLM:
    return ResearchLLM()


@pytest.fixture
def services(research_llm: ResearchLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=research_llm) as fake:
        yield fake


def base_env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("MIA_", "CLOUDFLARE_", "PERPLEXITY_", "AWS_", "NCBI_"))}
    return {**keep, "MIA_HOME": str(home), "MIA_CONFIG": str(home.parent / "config" / "config.toml"),
            "NO_COLOR": "1", "COLUMNS": "120"}


@pytest.fixture
def mia(services: FakeServices, mia_home: Path) -> Mia:
    return Mia({**base_env(mia_home), **services.env()})
