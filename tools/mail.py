"""Mail out (SMTP through the standard library, or the Resend HTTP API) and replies in (IMAP)."""

from __future__ import annotations

import hashlib
import imaplib
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

import httpx

from mia.errors import MissingCredentialError, ServiceError
from mia.settings import Settings
from mia.tools.http import RETRYABLE_STATUS, RetryPolicy, get_json, send

TIMEOUT = 30
CONCURRENT_ATTEMPTS = 4  # 409 concurrent_idempotent_requests: the first attempt is still being handled


@dataclass(frozen=True)
class OutgoingMail:
    """Exactly what will be sent; the Message-ID is fixed when the draft is made."""

    from_address: str
    to: str
    subject: str
    body: str
    message_id: str

    def to_email(self) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = self.message_id
        message.set_content(self.body)
        return message


class Sender(Protocol):
    def send(self, mail: OutgoingMail) -> str:
        """Send `mail`; the Message-ID the recipient's reply will refer to (may differ from `mail.message_id`)."""
        ...


def new_message_id(from_address: str) -> str:
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "mia.local"
    return make_msgid(domain=domain)


class SMTPSender:
    """SMTP with STARTTLS, implicit TLS or (for local relays) none."""

    def __init__(self, *, host: str, port: int, security: str, user: str | None, password: str | None) -> None:
        self.host, self.port, self.security = host, port, security
        self.user, self._password = user, password

    def send(self, mail: OutgoingMail) -> str:
        try:
            client: smtplib.SMTP
            if self.security == "tls":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            with client:
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self._password or "")
                refused = client.send_message(mail.to_email())
        except (smtplib.SMTPException, OSError) as exc:
            raise ServiceError(f"SMTP server {self.host}:{self.port} did not accept the message: {exc}",
                               "Check smtp.host, smtp.port, smtp.security and the credentials (`mia doctor`).",
                               service="SMTP") from None
        if refused:
            raise ServiceError(f"SMTP server refused the recipient(s): {', '.join(refused)}", None, service="SMTP")
        return mail.message_id


class ResendSender:
    """The Resend HTTP API: `POST /emails` with an `Idempotency-Key`, then `GET /emails/{id}` for the Message-ID.

    Documentation followed (checked 2026-11-30): Resend OpenAPI (`resend/resend-openapi` resend.yaml: the
    `Idempotency-Key` header on `POST /emails`, the Email object's `message_id`), resend.com/docs idempotency keys
    (same key and payload within 24 h: the first answer, nothing sent again; 409 `concurrent_idempotent_requests`
    is safe to retry) and api-reference/errors. The key comes from the message's own Message-ID, so every retry,
    in this call or after a crash, is the same request and can never deliver twice; hence transient failures
    (429, 5xx, a lost connection) are retried.
    """

    def __init__(self, *, http: httpx.Client, base_url: str, api_key: str, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.http, self.base_url, self._api_key = http, base_url.rstrip("/"), api_key
        self.retry = retry or RetryPolicy(attempts=5, statuses=RETRYABLE_STATUS - {409})
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"ResendSender(base_url={self.base_url!r})"  # never the key

    def send(self, mail: OutgoingMail) -> str:
        """Send once; the Message-ID the recipient sees (Resend's own when it reports one, else `mail`'s)."""
        body = {"from": mail.from_address, "to": [mail.to], "subject": mail.subject, "text": mail.body,
                "headers": {"Message-ID": mail.message_id}}
        headers = {"Authorization": f"Bearer {self._api_key}", "Idempotency-Key": idempotency_key(mail)}
        for attempt in range(1, CONCURRENT_ATTEMPTS + 1):
            try:
                response = send(self.http, "POST", f"{self.base_url}/emails", service="Resend", retry=self.retry,
                                sleep=self.sleep, json=body, headers=headers)
                break
            except ServiceError as exc:
                lowered = exc.message.lower()
                concurrent = exc.status == 409 and ("in progress" in lowered or "concurrent" in lowered)
                if exc.status == 409 and not concurrent:
                    raise ServiceError(f"{exc.message}", "Resend already sent a different message under this "
                                       "Message-ID in the last 24 hours; draft the e-mail again to send it anew.",
                                       service="Resend", status=409) from None
                if not concurrent or attempt == CONCURRENT_ATTEMPTS:
                    raise
                self.sleep(self.retry.delay(attempt, None))
        email_id = _email_id(response)
        reported = self._reported_message_id(email_id) if email_id else None
        return reported or mail.message_id

    def _reported_message_id(self, email_id: str) -> str | None:
        """The Message-ID Resend gave the mail (`GET /emails/{id}`), or None when it does not say or cannot."""
        try:
            data = get_json(self.http, f"{self.base_url}/emails/{email_id}", service="Resend", retry=self.retry,
                            sleep=self.sleep, headers={"Authorization": f"Bearer {self._api_key}"})
        except ServiceError:
            return None  # the mail is sent: its own Message-ID still matches replies that keep it
        found = data.get("message_id") if isinstance(data, dict) else None
        if not isinstance(found, str) or not found.strip():
            return None
        found = found.strip()
        return found if found.startswith("<") else f"<{found}>"


def idempotency_key(mail: OutgoingMail) -> str:
    """`mia-send/<sha256 of the Message-ID>`: one key per drafted message (Resend allows ≤256 characters)."""
    return "mia-send/" + hashlib.sha256(mail.message_id.encode()).hexdigest()


def _email_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found else None


def build_sender(settings: Settings, http: httpx.Client) -> Sender:
    """The configured transport; missing settings are named with the command that sets them."""
    if settings.mail.transport == "resend":
        key = settings.secret("resend.api_key")
        if not key:
            raise MissingCredentialError("Sending through Resend needs resend.api_key, and it is not set.",
                                         "Set it with `mia config set resend.api_key` or export RESEND_API_KEY.")
        return ResendSender(http=http, base_url=settings.resend.base_url, api_key=key)
    if not settings.smtp.host:
        raise MissingCredentialError("Sending mail needs smtp.host, and it is not set.",
                                     "Set it with `mia config set smtp.host HOST` (and smtp.port, smtp.user, "
                                     "`mia config set smtp.password`), or use mail.transport = resend.")
    return SMTPSender(host=settings.smtp.host, port=settings.smtp.port, security=settings.smtp.security,
                     user=settings.smtp.user, password=settings.secret("smtp.password"))


def from_address(settings: Settings) -> str:
    if not settings.mail.from_address:
        raise MissingCredentialError("Outreach mail needs a From address (mail.from_address).",
                                     'Set it with `mia config set mail.from_address "Name <you@example.org>"`.')
    return settings.mail.from_address


def fetch_new(settings: Settings, after_uid: int) -> list[tuple[int, bytes]]:
    """Messages in the reply mailbox with a UID above `after_uid`, oldest first."""
    imap = settings.imap
    if not imap.host or not imap.user:
        raise MissingCredentialError("Reading replies needs imap.host and imap.user.",
                                     "Set them with `mia config set imap.host HOST`, `mia config set imap.user "
                                     "USER` and `mia config set imap.password`.")
    try:
        client = (imaplib.IMAP4_SSL(imap.host, imap.port, timeout=TIMEOUT) if imap.security == "tls"
                  else imaplib.IMAP4(imap.host, imap.port, timeout=TIMEOUT))
        if imap.security == "starttls":
            client.starttls(ssl.create_default_context())
        client.login(imap.user, settings.secret("imap.password") or "")
        client.select(imap.mailbox, readonly=True)
        _, data = client.uid("SEARCH", f"UID {after_uid + 1}:*")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > after_uid)
        messages = []
        for uid in uids:
            _, parts = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), b"")
            messages.append((uid, raw))
        client.logout()
    except (TimeoutError, imaplib.IMAP4.error, OSError) as exc:
        raise ServiceError(f"IMAP server {imap.host}:{imap.port} could not be read: {exc}",
                           "Check imap.host, imap.port, imap.security and the credentials.", service="IMAP") from None
    return messages
