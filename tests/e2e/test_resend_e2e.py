"""Mail through Resend as the real API behaves (tests/fakes/resend_api.py names the documentation)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.test_outreach_e2e import draft, reply_to
from fakes.mail_servers import imap_server
from fakes.resend_api import FakeResend

from .conftest import Mia, base_env


@pytest.fixture
def resend() -> Iterator[FakeResend]:
    with FakeResend() as fake:
        yield fake


@pytest.fixture
def cli(resend: FakeResend, mia_home: Path, monkeypatch: pytest.MonkeyPatch) -> Mia:
    for name, value in resend.env().items():
        monkeypatch.setenv(name, value)  # the in-process drafting sees the same settings
    return Mia({**base_env(mia_home), **resend.env()})


def approve(cli: Mia, approval: int) -> None:
    result = cli.run("approvals", "approve", str(approval), "--yes")
    assert result.returncode == 0, result.stderr


def test_a_send_whose_answer_was_lost_is_retried_and_delivered_once(cli: Mia, resend: FakeResend) -> None:
    resend.fail_next(503, "internal_server_error", after_send=True)  # sent, but the answer never arrives

    approve(cli, draft())

    assert len(resend.delivered) == 1
    keys = [p["idempotency_key"] for p in resend.posts]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("mia-send/")
    assert resend.posts[0]["payload"] == resend.posts[1]["payload"]


def test_rate_limits_and_concurrent_key_use_are_waited_out(cli: Mia, resend: FakeResend) -> None:
    resend.fail_next(429, "rate_limit_exceeded")
    resend.fail_next(409, "concurrent_idempotent_requests")

    approve(cli, draft())

    assert len(resend.delivered) == 1 and len(resend.posts) == 3


def test_a_reply_citing_the_id_resend_gave_the_mail_is_matched(cli: Mia, resend: FakeResend) -> None:
    approve(cli, draft())
    ours = resend.delivered[0].payload["headers"]["Message-ID"]
    theirs = resend.delivered[0].message_id
    assert theirs != ours and resend.gets == 1

    with imap_server() as imap:
        imap.deliver(reply_to(theirs))
        result = Mia({**cli.env, **imap.env()}).run("inbox", "sync", "--json")

    assert result.returncode == 0, result.stderr
    replies = json.loads(result.stdout)["replies"]
    assert [r["from"] for r in replies] == ["rossi@trials.example.org"]


def test_a_reply_citing_our_own_id_still_matches_when_resend_reports_none(mia_home: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeResend(keeps_message_id=True, reports_message_id=False) as resend:
        for name, value in resend.env().items():
            monkeypatch.setenv(name, value)
        cli = Mia({**base_env(mia_home), **resend.env()})
        approve(cli, draft())
        ours = resend.delivered[0].message_id
        with imap_server() as imap:
            imap.deliver(reply_to(ours))
            result = Mia({**cli.env, **imap.env()}).run("inbox", "sync", "--json")

    assert [r["from"] for r in json.loads(result.stdout)["replies"]] == ["rossi@trials.example.org"]


def test_a_key_reused_with_another_payload_is_refused_with_a_hint(cli: Mia, resend: FakeResend) -> None:
    resend.fail_next(409, "invalid_idempotent_request")

    result = cli.run("approvals", "approve", str(draft()), "--yes")

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "draft the e-mail again" in result.stderr and resend.delivered == [] and len(resend.posts) == 1
