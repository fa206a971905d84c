"""Shared fixtures: every test gets its own MIA_HOME and config dir; nothing reads the real home."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test helpers (loopback fakes) are imported as `fakes`; the repository root is never put on
# sys.path, so `mia` always comes from the installed package.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def mia_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MIA_HOME", str(home))
    monkeypatch.setenv("MIA_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.delenv("MIA_SECRETS", raising=False)
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "PERPLEXITY_API_KEY", "NCBI_API_KEY",
                 "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    import os

    for name in list(os.environ):
        if name.startswith("MIA_") and name not in ("MIA_HOME", "MIA_CONFIG"):
            monkeypatch.delenv(name, raising=False)
    return home
