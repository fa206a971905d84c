"""Every documented R2 jurisdiction gives both the S3 endpoint and the Worker's R2 binding (R2 data-location docs,
R2 changelog 2026-08-17 for `us`)."""

from __future__ import annotations

import pytest

from mia.agents.cloud.worker import bindings
from mia.errors import ConfigError
from mia.settings import load_settings

ENV = {"CLOUDFLARE_ACCOUNT_ID": "acct123", "MIA_R2_BUCKET": "mia-team"}


@pytest.mark.parametrize("jurisdiction", ["eu", "fedramp", "us"])
def test_each_jurisdiction_builds_the_endpoint_and_the_binding(jurisdiction: str) -> None:
    settings = load_settings(env={**ENV, "MIA_R2_JURISDICTION": jurisdiction})

    assert settings.r2_endpoint == f"https://acct123.{jurisdiction}.r2.cloudflarestorage.com"
    bucket = next(b for b in bindings(settings, "mia-research") if b["type"] == "r2_bucket")
    assert bucket == {"type": "r2_bucket", "name": "BUCKET", "bucket_name": "mia-team", "jurisdiction": jurisdiction}


def test_no_jurisdiction_means_the_default_endpoint_and_no_binding_field() -> None:
    settings = load_settings(env=ENV)

    assert settings.r2_endpoint == "https://acct123.r2.cloudflarestorage.com"
    assert "jurisdiction" not in next(b for b in bindings(settings, "wf") if b["type"] == "r2_bucket")


def test_an_undocumented_jurisdiction_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={**ENV, "MIA_R2_JURISDICTION": "mars"})

    assert "r2.jurisdiction" in str(caught.value)
