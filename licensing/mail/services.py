"""Queueing email with the change that causes it, and delivering it later.

`enqueue()` renders the message and adds it to the outbox in the caller's
transaction: if the change rolls back, no email goes out; if it commits, the
email is not lost even when SMTP is down. `deliver_due()` claims due
messages (several senders may run at once: claims use FOR NO KEY UPDATE SKIP LOCKED
on PostgreSQL), sends them over `SMTP_URL`, and retries failures with an
exponential backoff until `MAX_ATTEMPTS`, after which a message is `failed`:
still listed for staff, who may retry it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formatdate, make_msgid, parseaddr
from functools import lru_cache, partial
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app, has_request_context, request
from jinja2 import Environment, TemplateNotFound
from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import InvalidInput, NotFound
from licensing.mail.models import (
    FILENAME_MAX,
    SUBJECT_MAX,
    KeptBytesUnavailable,
    OutboxAttachment,
    OutboxMessage,
    kept_source,
)
from licensing.mail.smtp import Delivery, Transport
from licensing.mail.states import OUTBOX, QUEUED

# The request environ key that says a request queued mail (delivered after it).
# A child of the app's logger ("licensing", whose level create_app sets): its records
# reach the handlers the app's do, and delivery reads no app to log.
log = logging.getLogger(__name__)

MAIL_ENQUEUED = "licensing.mail_enqueued"
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
# A claimed message is due again after this long, should its sender die mid-send.
CLAIM_LEASE = timedelta(minutes=5)
CLAIM_BATCH = 50
OFFICE_NAME = "CPT Licensing Office"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1, 2, 4 ... 60 minutes."""
    factor: int = 2 ** max(attempts - 1, 0)  # typeshed types int ** int as Any
    return min(BACKOFF_BASE * factor, BACKOFF_MAX)


@lru_cache(maxsize=4096)
def _normalized(address: str) -> str:
    """An address as the outbox stores it, worked out once a process (round 67: the
    same few addresses are written to again and again; a refused one is not kept)."""
    return validate_email(address, check_deliverability=False).normalized


def _addresses(to: str | Sequence[str]) -> list[str]:
    raw = [to] if isinstance(to, str) else list(to)
    addresses: list[str] = []
    for address in raw:
        try:
            normalized = _normalized(address)
        except EmailNotValidError as exc:
            raise InvalidInput.for_field(
                "to", f"{address!r} is not an email address: {exc}"
            ) from None
        if normalized not in addresses:
            addresses.append(normalized)
    if not addresses:
        raise InvalidInput.for_field("to", "An email needs at least one recipient.")
    return addresses


def _render(template: str, context: Mapping[str, Any]) -> tuple[str, str | None]:
    environment = current_app.jinja_env
    values = {
        "public_url": current_app.config["LICENSING"].public_url,
        "office_name": OFFICE_NAME,
        **context,
    }
    text = environment.get_template(f"emails/{template}.txt").render(values)
    html: str | None = None
    text_only = _TEXT_ONLY.setdefault(environment, set())
    if template not in text_only:
        name = f"emails/{template}.html"
        try:
            html = environment.get_template(name).render(values)
        except TemplateNotFound as missing:
            if missing.name == name and not environment.auto_reload:
                text_only.add(template)
    return text, html


# The emails with no HTML part, by the environment that looked (round 67: a template
# not found is not cached by Jinja, so every email asked each template folder again;
# an environment that reloads templates, a developer's, asks every time).
_TEXT_ONLY: WeakKeyDictionary[Environment, set[str]] = WeakKeyDictionary()


@lru_cache(maxsize=64)
def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def _mail_domain() -> str:
    return _domain(current_app.config["LICENSING"].mail_from)


def sender_address() -> str:
    """The office's address every email comes from (MAIL_FROM), which its replies
    reach: the address pages give for contacting the licensing office."""
    return parseaddr(current_app.config["LICENSING"].mail_from)[1]


@dataclass(frozen=True)
class Attachment:
    """A file to send with a message: `filename` as the recipient sees it.

    With `kept` (a kind registered with `models.register_kept_source`, and the kept
    row's id), the outbox stores no copy of `content`: it names the kept document,
    whose bytes `content` must be, and reads them when the message is sent (round 48).
    """

    filename: str
    content_type: str
    content: bytes
    kept: tuple[str, int] | None = None


def _stored(session: Session, attachment: Attachment, name: str) -> OutboxAttachment:
    if attachment.kept is None:
        return OutboxAttachment(
            filename=name,
            content_type=attachment.content_type,
            stored=attachment.content,
            size=len(attachment.content),
        )
    kind, kept_id = attachment.kept
    # The caller's mistake, not the user's: an email must not name bytes it did not
    # mean to send (the row is usually in the session already: no query).
    if kept_source(kind)(session, kept_id) != attachment.content:
        raise ValueError(f"{kind} {kept_id} does not hold the bytes attached as {name}")
    return OutboxAttachment(
        filename=name,
        content_type=attachment.content_type,
        kept_kind=kind,
        kept_id=kept_id,
        sha256=hashlib.sha256(attachment.content).hexdigest(),
        size=len(attachment.content),
    )


def _checked_attachments(
    session: Session, attachments: Sequence[Attachment]
) -> list[OutboxAttachment]:
    stored = []
    for index, attachment in enumerate(attachments):
        name = attachment.filename.strip()
        if not name or len(name) > FILENAME_MAX or "/" in name or "\\" in name:
            raise InvalidInput.for_field(
                f"attachments.{index}.filename",
                f"A file name of 1-{FILENAME_MAX} characters, without slashes.",
            )
        if attachment.content_type.count("/") != 1:
            raise InvalidInput.for_field(
                f"attachments.{index}.content_type", "A MIME type such as application/pdf."
            )
        stored.append(_stored(session, attachment, name))
    return stored


def mask(secret: str) -> str:
    """How a secret appears to staff: its first characters, enough to tell two
    links apart, and never enough to use one."""
    return f"{secret[:4]}…[hidden]"


def _masked(body: str | None, secrets: Sequence[str]) -> str | None:
    if body is None:
        return None
    for secret in secrets:
        body = body.replace(secret, mask(secret))
    return body


def enqueue(
    session: Session,
    *,
    to: str | Sequence[str],
    subject: str,
    template: str,
    context: Mapping[str, Any],
    attachments: Sequence[Attachment] = (),
    secrets: Sequence[str] = (),
) -> OutboxMessage:
    """Render `templates/emails/<template>.txt` (and `.html` when present) with
    `context` and queue the message in the caller's transaction, with any
    `attachments` stored beside it.

    The templates also receive `public_url` and `office_name`; links
    come from `licensing.links.links()`. Name in `secrets` every secret the
    message carries (the token of a one-time link): staff then see it masked,
    and it is erased from the stored message once sent. Raises `InvalidInput`
    for an address that is not one.
    """
    recipients = _addresses(to)
    files = _checked_attachments(session, attachments)
    text, html = _render(template, context)
    hidden = [secret for secret in secrets if secret]
    message = OutboxMessage(
        recipients=json.dumps(recipients),
        subject=" ".join(subject.split())[:SUBJECT_MAX],
        template=template,
        body_text=text,
        body_html=html,
        masked_text=_masked(text, hidden) if hidden else None,
        masked_html=_masked(html, hidden) if hidden else None,
        state=QUEUED,
        attempts=0,
        next_attempt_at=utcnow(),
        message_id=make_msgid(domain=_mail_domain()),
        attachments=files,
    )
    session.add(message)
    session.flush()
    # What and which, never to whom: an address is personal, a template is not.
    log.info("outbox: queued %s email (message %d)", template, message.id)
    if has_request_context():  # delivered after the response, when configured
        # Marked on the request itself, not `g`: an app context (a test's, a
        # CLI's) may outlive one request and carry `g` into the next.
        request.environ[MAIL_ENQUEUED] = True
    return message


# (session, role) -> the addresses of the staff to notify; accounts installs it
StaffDirectory = Callable[[Session, str], list[str]]
_STAFF_DIRECTORY = "licensing.staff_directory"


def install_staff_directory(app: Flask, directory: StaffDirectory) -> None:
    """Say who the staff holding a role are: the outbox knows addresses, not users
    (`licensing.accounts.init_app` installs its own)."""
    app.extensions[_STAFF_DIRECTORY] = directory


def staff_recipients(role: str) -> list[str]:
    """Addresses of the staff to notify of what `role` handles (the directory
    decides: accounts writes to the active holders of the role, else the admins)."""
    directory: StaffDirectory = current_app.extensions[_STAFF_DIRECTORY]
    return directory(db.session(), role)


class Assignee(Protocol):
    email: str
    is_active: bool


def staff_addressees(role: str, assignee: Assignee | None = None) -> list[str]:
    """Whom `notify_staff` writes to: the assignee while active, else everyone who
    holds `role`. A step that answers whom it told reads it too (round 38)."""
    if assignee is not None and assignee.is_active:
        return [assignee.email]
    return staff_recipients(role)


def notify_staff(
    session: Session,
    role: str,
    *,
    assignee: Assignee | None = None,
    subject: str,
    template: str,
    context: Mapping[str, Any],
) -> OutboxMessage | None:
    """Queue a notice for staff: the record's assignee while they are active, else
    everyone who holds `role` (`staff_recipients`). With nobody to tell, nothing is
    queued: the record still waits in its console queue."""
    recipients = staff_addressees(role, assignee)
    if not recipients:
        return None
    return enqueue(session, to=recipients, subject=subject, template=template, context=context)


# --- delivery --------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    # Of `failed`, those given up at once, not after `MAX_ATTEMPTS`: an attachment's
    # kept document missing or not the one queued (`KeptBytesUnavailable`, round 54).
    failed_at_once: int = 0
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)
    # Where "sent" went, when not to an SMTP server.
    destination: str | None = None

    @property
    def attempted(self) -> int:
        return self.sent + self.deferred + self.failed

    def __str__(self) -> str:
        if self.skipped:
            return f"Nothing sent: {self.skipped}."
        sent = f"{self.sent} sent" + (f" to {self.destination}" if self.destination else "")
        text = (
            f"{sent}, {self.deferred} to retry later, "
            f"{self.failed - self.failed_at_once} failed after {MAX_ATTEMPTS} attempts"
        )
        # Round 55: a message failed at once was counted "failed after 8 attempts",
        # though it was tried once; the line says what happened to it.
        if self.failed_at_once:
            text += (
                f", {self.failed_at_once} failed at once (a kept document it attaches is "
                "missing or not the one queued: see the outbox)"
            )
        return text + (f" (last error: {self.errors[-1]})" if self.errors else "")


# What begins the last error of a message held back because the SMTP server could not
# be reached or dropped the connection (round 61, outage61b), rather than refused for
# itself: once the server answers again, those are sent at once (`_release_held`),
# not each at its next backoff try (up to an hour later). The claim takes the words
# off (the message is being sent), so a message under a sender's claim is never
# released to another.
SERVER_AWAY = "SMTP server unavailable: "


def _held_back() -> tuple[ColumnElement[bool], ...]:
    """Queued messages held back by the server being away, not yet due."""
    return (
        OutboxMessage.state == QUEUED,
        OutboxMessage.last_error.startswith(SERVER_AWAY, autoescape=True),
    )


def _claim(now: datetime, limit: int) -> list[int]:
    """Mark up to `limit` due messages as taken by this sender, and return their ids.

    The claim pushes `next_attempt_at` ahead by the lease and counts the
    attempt, in one committed UPDATE, so no other sender picks them up. A message
    held back by the server being away keeps its last error, without `SERVER_AWAY`.
    """
    with db.transaction() as session:
        due = (
            select(OutboxMessage.id)
            .where(OutboxMessage.state == QUEUED, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)  # as db.claim locks
        )
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(
                next_attempt_at=now + CLAIM_LEASE,
                attempts=OutboxMessage.attempts + 1,
                last_error=case(
                    (
                        OutboxMessage.last_error.startswith(SERVER_AWAY, autoescape=True),
                        func.substr(OutboxMessage.last_error, len(SERVER_AWAY) + 1),
                    ),
                    else_=OutboxMessage.last_error,
                ),
            )
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(claimed.scalars())


def _load(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None:
        raise NotFound(f"No outbox message {message_id}.")
    return message


class OneLineSubject(str):
    """A subject folded at RFC 5322's 998-character line limit rather than 78.

    Python 3.11's folder drops the space between two encoded words it puts on
    separate lines: "... acts for Ærøskøbing Médical Systèmes S.A." arrived as
    "ÆrøskøbingMédical" whenever the line happened to break there (a longer or
    shorter name before it moved the break; CI, stop 56). On one line the words keep
    their spaces; a subject is far shorter than 998 characters."""

    name = "Subject"

    def fold(self, *, policy: Policy) -> str:
        wide = policy.clone(max_line_length=998)
        folded: str = wide.header_factory(self.name, str(self)).fold(policy=wide)  # type: ignore[attr-defined]
        return folded


def _email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(message.to)
    email["Subject"] = OneLineSubject(message.subject)
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message.message_id or make_msgid(domain=_domain(sender))
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return email


def _record_success(message_id: int, now: datetime, *, erase_secrets: bool) -> None:
    """Mark the message sent; a secret it carried is erased (it was delivered,
    and nobody needs to read it here again), unless the outbox is the mailbox."""
    with db.transaction() as session:
        message = _load(session, message_id)
        message.state = OUTBOX.step(message.state, "deliver")
        message.sent_at = now
        if erase_secrets and message.masked_text is not None:
            message.body_text = message.masked_text
            message.body_html = message.masked_html


def _record_failure(
    message_id: int,
    error: BaseException,
    now: datetime,
    *,
    final: bool = False,
    server_away: bool = False,
) -> str:
    """Schedule a retry, or give up after MAX_ATTEMPTS (at once when `final`: no
    retry can succeed); returns the new state. `server_away`: the server could not be
    reached or dropped the connection, so the message is held back by that, not
    refused for itself (`SERVER_AWAY`)."""
    with db.transaction() as session:
        message = _load(session, message_id)
        said = f"{type(error).__name__}: {error}"
        message.last_error = (f"{SERVER_AWAY}{said}" if server_away else said)[:2000]
        if final or message.attempts >= MAX_ATTEMPTS:
            message.state = OUTBOX.step(message.state, "give_up")
        else:
            message.state = OUTBOX.step(message.state, "defer")
            message.next_attempt_at = now + backoff(message.attempts)
        return message.state


_SEND_ERRORS = (smtplib.SMTPException, OSError)


def _server_away(error: BaseException) -> bool:
    """Whether a send's error means the connection itself is gone (stop this run,
    retry later) rather than the server refusing this message. smtplib's errors are
    all OSErrors, so until round 61 (outage61b) a refusal (a 451, a bad address's 550)
    was taken for the server gone: the run stopped there, and the refused message and
    every message after it in its batch were held back alike."""
    if isinstance(error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code == 421  # the server closing the connection
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _tally(
    report: DeliveryReport, state: str, error: BaseException, *, at_once: bool = False
) -> None:
    report.errors.append(f"{type(error).__name__}: {error}")
    if state == QUEUED:
        report.deferred += 1
    else:
        report.failed += 1
        report.failed_at_once += at_once


def deliver_due(
    delivery: Delivery, now: datetime | None = None, *, limit: int = 500
) -> DeliveryReport:
    """Send every message due at `now` (default: the current time), at most `limit`,
    as `delivery` says (`Delivery.from_config`: over `SMTP_URL`, else in
    development to the mail viewer at /dev/mail; with neither nothing is sent).

    Safe to run on several hosts at once. A message the server refuses, or
    that cannot be sent because the server is down, stays queued with its
    attempt counted and is retried after `backoff()`; after `MAX_ATTEMPTS`
    it becomes `failed`.
    """
    transport = delivery.transport
    if transport is None:
        return DeliveryReport(skipped="SMTP_URL is not set, so messages stay in the outbox")
    report = DeliveryReport(destination=delivery.destination)
    reached = _deliver(transport, delivery, now, limit, report)
    # Round 61 (outage61b): mail held back while the server was away goes once it
    # answers again, in this run (up to its limit), rather than each message at its
    # next backoff try, up to an hour later. Whether it answers: this run's sends, or,
    # with nothing due to send, a connection opened and closed.
    if (
        reached
        and report.attempted < limit
        and _any_held_back()
        and (report.attempted or _answers(transport))
    ):
        moment = now or utcnow()
        db.retried_unit(partial(_release_held, moment, limit - report.attempted))
        _deliver(transport, delivery, now, limit, report)
    return report


def _deliver(
    transport: Transport,
    delivery: Delivery,
    now: datetime | None,
    limit: int,
    report: DeliveryReport,
) -> bool:
    """Claim and send due messages until none is due or the run's `limit` is reached;
    False when the server could not be reached (the run stops)."""
    while report.attempted < limit:
        moment = now or utcnow()
        # Each unit of work here is run again after a deadlock (round 60, `db.retried_unit`):
        # the claim, and each message's outcome recorded once the server answered (the
        # email is not sent again: the send is outside the unit run again).
        claimed = db.retried_unit(
            partial(_claim, moment, min(CLAIM_BATCH, limit - report.attempted))
        )
        if not claimed:
            break
        if not _send_batch(claimed, transport, delivery, moment, report):
            return False
    return True


def _any_held_back() -> bool:
    with db.transaction(repeatable=True) as session:
        return session.scalar(select(OutboxMessage.id).where(*_held_back()).limit(1)) is not None


def _answers(transport: Transport) -> bool:
    """Whether the server takes a connection (greeting, EHLO, sign-in), sending nothing."""
    try:
        with transport.connect():
            return True
    except _SEND_ERRORS as exc:
        log.info("outbox: SMTP server still unavailable: %s", exc)
        return False


def _release_held(now: datetime, limit: int) -> int:
    """Make up to `limit` of the messages held back by the server being away due at
    `now`, the first queued first (the claim then takes them in that order, by id); how
    many. A message refused for itself keeps its backoff; one under a sender's claim
    is not held back (the claim took `SERVER_AWAY` off), so none is sent twice."""
    with db.transaction() as session:
        held = (
            select(OutboxMessage.id)
            .where(*_held_back(), OutboxMessage.next_attempt_at > now)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        )
        released = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(held.scalar_subquery()), *_held_back())
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        count = int(released.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        log.info("outbox: the SMTP server answers again: %d held-back email(s) due now", count)
    return count


def _send_batch(
    claimed: list[int],
    transport: Transport,
    delivery: Delivery,
    now: datetime,
    report: DeliveryReport,
) -> bool:
    """Send the claimed messages over one connection; False when the server is unreachable."""
    pending = list(claimed)
    sender = delivery.sender
    try:
        with transport.connect() as connection:
            while pending:
                message_id = pending[0]
                try:
                    # A kept attachment's bytes are read (and checked) here, at send time.
                    connection.send(_email(_load(db.session(), message_id), sender))
                except _SEND_ERRORS as exc:
                    if _server_away(exc):
                        raise
                    pending.pop(0)  # the server refused this message
                    state = db.retried_unit(partial(_record_failure, message_id, exc, now))
                    _tally(report, state, exc)
                    continue
                except KeptBytesUnavailable as exc:  # its kept bytes are not: this message
                    # Failed at once (round 54: retried 8 times over 2 hours): a kept
                    # document is insert-only, so one gone or rewritten does not come
                    # back by waiting. Listed failed, with why; staff retry it once it
                    # is restored.
                    pending.pop(0)
                    failed = db.retried_unit(
                        partial(_record_failure, message_id, exc, now, final=True)
                    )
                    _tally(report, failed, exc, at_once=True)
                    continue
                pending.pop(0)
                db.retried_unit(
                    partial(_record_success, message_id, now, erase_secrets=delivery.erase_secrets)
                )
                report.sent += 1
    except _SEND_ERRORS as exc:
        log.warning("outbox: SMTP server unavailable: %s", exc)
        for message_id in pending:
            _tally(report, _record_failure(message_id, exc, now, server_away=True), exc)
        return False
    return True


# --- staff -----------------------------------------------------------------------


def retry_message(message_id: int, *, actor: Actor) -> OutboxMessage:
    """Admins: queue a failed message again, with a fresh count of attempts."""
    actor.require_role("admin")
    with db.transaction() as session:
        message = _load(session, message_id)
        before = {"state": message.state, "attempts": message.attempts}
        message.state = OUTBOX.step(message.state, "retry")
        message.attempts = 0
        message.next_attempt_at = utcnow()
        audit.record_event(
            session,
            "outbox_message.retried",
            message.id,
            before=before,
            after={"state": message.state, "attempts": message.attempts},
            actor=actor,
        )
        return message
