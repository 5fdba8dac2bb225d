"""The SMTP transport, configured by one URL (`SMTP_URL`, read into
`config.SMTPSettings` when the app starts)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from typing import Protocol

from licensing import db
from licensing.config import Config, SMTPSettings


class Connection(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Transport(Protocol):
    """Opens a connection that sends messages; used by `mail.services.deliver_due`."""

    def connect(self) -> AbstractContextManager[Connection]: ...


class _SMTPConnection:
    def __init__(self, client: smtplib.SMTP) -> None:
        self._client = client

    def send(self, message: EmailMessage) -> None:
        db.went_outside("the SMTP server")  # round 59: never sent twice by a retry
        refused = self._client.send_message(message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


class _Nowhere:
    def send(self, message: EmailMessage) -> None:
        """The message is already stored in the outbox, which is what the viewer reads."""


class DevMailViewer:
    """Development without an SMTP server: delivery "to" the mail viewer at
    /dev/mail, which lists the outbox itself, so sending only marks messages sent."""

    NAME = "the development mail viewer (/dev/mail)"

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield _Nowhere()


@cache
def _tls() -> ssl.SSLContext:
    """The TLS context of every SMTP connection a process opens, made at its first (round
    67, suiteSvc67): making one loads the system's certificate authorities, some 40 ms
    of CPU, which every delivery paid, over plain SMTP too, where it went unused. A
    context is safe to share between threads; its settings are the defaults, as before."""
    return ssl.create_default_context()


class SMTPTransport:
    """Delivers over SMTP; a failure raises `smtplib.SMTPException` or `OSError`."""

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings

    @classmethod
    def from_url(cls, url: str) -> SMTPTransport:
        return cls(SMTPSettings.from_url(url))

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        settings = self.settings
        client: smtplib.SMTP
        if settings.implicit_tls:
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=_tls()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            client.ehlo()
            if settings.starttls:
                client.starttls(context=_tls())
                client.ehlo()
            if settings.username:
                client.login(settings.username, settings.password or "")
            yield _SMTPConnection(client)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


@dataclass(frozen=True)
class Delivery:
    """Where the outbox delivers and as whom: built from the settings at the edge
    that sends (`licensing outbox send`, the worker, the console's "send now", the
    delivery after a request), from SMTP_URL, else DEV_MAIL_VIEWER, and MAIL_FROM."""

    transport: Transport | None  # None: nowhere to send, so mail stays queued
    sender: str
    destination: str | None = None  # named in the report when not an SMTP server
    # A delivered message's one-time links are erased from the outbox, except when
    # the outbox is the mailbox (the development viewer reads the stored bodies).
    erase_secrets: bool = True

    @classmethod
    def from_config(cls, config: Config) -> Delivery:
        if config.smtp_url:
            return cls(SMTPTransport.from_url(config.smtp_url), config.mail_from)
        if config.dev_mail_viewer:
            return cls(DevMailViewer(), config.mail_from, DevMailViewer.NAME, erase_secrets=False)
        return cls(None, config.mail_from)
