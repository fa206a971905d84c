"""`mia triggers deploy` without its settings names the exact command for each missing one."""

from __future__ import annotations

import pytest

from mia.commands.app import main


@pytest.mark.parametrize(("env", "words", "absent"), [
    ({"CLOUDFLARE_ACCOUNT_ID": "acct", "CLOUDFLARE_API_TOKEN": "tok"},
     ["need r2.bucket, and it is not set", "Set it: `mia config set r2.bucket NAME`, or export MIA_R2_BUCKET."],
     ["cloudflare.account_id", "CLOUDFLARE_API_TOKEN"]),
    ({"CLOUDFLARE_ACCOUNT_ID": "acct"},
     ["need cloudflare.api_token and r2.bucket, and they are not set",
      "`mia config set cloudflare.api_token` (prompted for, kept in secrets.toml)",
      "`mia config set r2.bucket NAME`", "export CLOUDFLARE_API_TOKEN / MIA_R2_BUCKET."],
     ["CLOUDFLARE_ACCOUNT_ID"]),
])
def test_missing_cloud_settings_name_the_command_that_sets_each(capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                                words: list[str], absent: list[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["triggers", "deploy"]) != 0
    err = capsys.readouterr().err
    assert "KEY" not in err  # a placeholder the person would have to work out
    for word in words:
        assert word in err, err
    for word in absent:
        assert word not in err, err
