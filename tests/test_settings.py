"""Settings precedence, the secrets file, and `mia config`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mia import paths
from mia.errors import ConfigError, UsageError
from mia.settings import load_settings, set_value


def write_config(text: str) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = load_settings()
    assert settings.cloudflare.api_base_url == "https://api.cloudflare.com/client/v4"
    assert settings.llm.model == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert settings.sources["llm.model"] == "default"


def test_option_beats_environment_beats_config_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('[research]\nbudget_usd = 0.25\ndepth = "deep"\n[llm]\nmodel = "@cf/from-config"\n')
    monkeypatch.setenv("MIA_RESEARCH_BUDGET_USD", "0.75")
    monkeypatch.setenv("MIA_LLM_MODEL", "@cf/from-env")
    settings = load_settings({"llm.model": "@cf/from-option"})
    assert settings.llm.model == "@cf/from-option" and settings.sources["llm.model"] == "option"
    assert settings.research.budget_usd == 0.75
    assert settings.sources["research.budget_usd"] == "env:MIA_RESEARCH_BUDGET_USD"
    assert settings.research.depth == "deep" and settings.sources["research.depth"].startswith("config:")


def test_well_known_environment_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct-1")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok-secret-value")
    monkeypatch.setenv("PERPLEXITY_API_KEY", "pplx-secret")
    monkeypatch.setenv("MIA_PUBMED_BASE_URL", "http://127.0.0.1:9/eutils")
    settings = load_settings()
    assert settings.cloudflare.account_id == "acct-1"
    assert settings.secret("cloudflare.api_token") == "tok-secret-value"
    assert settings.secret("perplexity.api_key") == "pplx-secret"
    assert settings.pubmed.base_url == "http://127.0.0.1:9/eutils"
    assert "tok-secret-value" not in repr(settings)


def test_mia_home_moves_registry_and_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIA_HOME", str(tmp_path / "elsewhere"))
    settings = load_settings()
    assert settings.registry_path == tmp_path / "elsewhere" / "registry.db"
    assert settings.workspace_root == tmp_path / "elsewhere" / "workspace"


def test_secrets_file_is_created_0600_and_read_back() -> None:
    path = set_value("perplexity.api_key", "pplx-abc123")
    assert path == paths.secrets_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings().secret("perplexity.api_key") == "pplx-abc123"
    assert "pplx-abc123" not in paths.config_file().read_text() if paths.config_file().exists() else True


def test_group_readable_secrets_file_is_refused_with_the_chmod_fix() -> None:
    path = set_value("perplexity.api_key", "pplx-abc123")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "chmod 600" in caught.value.hint and str(path) in caught.value.hint
    assert "pplx-abc123" not in str(caught.value)


def test_secret_in_config_toml_is_refused() -> None:
    write_config('[perplexity]\napi_key = "pplx-in-the-wrong-file"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "mia config set perplexity.api_key" in caught.value.hint
    assert "pplx-in-the-wrong-file" not in str(caught.value)


def test_unknown_and_invalid_settings_name_the_key() -> None:
    write_config("[research]\nbudgett = 1\n")
    with pytest.raises(ConfigError, match="research.budgett"):
        load_settings()
    write_config('[research]\ndepth = "bottomless"\n')
    with pytest.raises(ConfigError, match="research.depth"):
        load_settings()


def test_broken_toml_is_a_config_error_naming_the_file() -> None:
    path = write_config("[research\n")
    with pytest.raises(ConfigError, match="Cannot parse"):
        load_settings()
    assert path.read_text() == "[research\n"


def test_set_value_validates_before_writing() -> None:
    set_value("research.depth", "quick")
    with pytest.raises(UsageError):
        set_value("research.concurrency", "many")
    with pytest.raises(UsageError, match="one of quick, standard or deep"):  # a bad argument: exit 2
        set_value("research.depth", "bottomless")
    assert load_settings().research.depth == "quick"
