"""Confirmations that bind what they showed (round 54): the one mechanism.

A step that cannot be undone (a credit note issued, a card refunded) is asked about
first, on a page that says what it will do; the confirming post then carries back a
value signed under `SECRET_KEY` (through the signing port, `signing.Signer.serializer`,
salted for each kind of step so one kind never passes for another, and read under
`SECRET_KEY_FALLBACKS` too) binding the record, what the page said (`said`: amounts,
the record's figures as read, digests of long texts), who was shown it and when.

`Kind.read` gives back what was said once the value is found to be this service's,
for this record and person, and recent (`CONFIRM_WITHIN`); a value missing, forged,
altered, another record's or person's, or stale is `ConfirmationRefused` (400,
nothing done). The use case then compares what was said with the post and, under the
record's row lock, with the record as it is now (`Kind.changed`: 409 saying what
changed)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from itsdangerous import BadSignature

from licensing.actors import Actor
from licensing.errors import BadRequest
from licensing.money import in_words
from licensing.signing import signer

# How long a confirmation may be pressed after it was shown: long enough to read it
# and check with a colleague, short enough that a page left open overnight is shown
# again before it does anything.
CONFIRM_WITHIN = timedelta(minutes=15)


class ConfirmationRefused(BadRequest):
    """A confirming post that does not carry what was shown (400, nothing done)."""


@dataclass(frozen=True)
class Kind:
    """One kind of confirmed step: `salt` names it in the signature; `record_word` its
    record ("invoice"); `not_done`, `nothing_done` and `again` word its refusals ("Not
    issued", "Nothing was issued", "issue the credit note again to see its
    confirmation, then confirm it")."""

    salt: str
    record_word: str
    not_done: str
    nothing_done: str
    again: str

    def sign(self, record: int, actor: Actor, now: datetime, said: Mapping[str, object]) -> str:
        """The value the confirmation carries: what it `said` of `record`, to `actor`."""
        return (
            signer()
            .serializer(self.salt)
            .dumps(
                {"for": record, "by": who(actor), "shown_at": now.isoformat(), "said": dict(said)}
            )
        )

    def read(self, value: str | None, record: int, actor: Actor, now: datetime) -> dict[str, str]:
        """What the confirmation said, once it is found to be this service's, for
        `record` and `actor`, shown within `CONFIRM_WITHIN`; `ConfirmationRefused`
        otherwise."""
        if not value:
            raise self.refused("the confirmation of what was shown is missing")
        try:
            shown = signer().serializer(self.salt).loads(value)
            said = {str(name): str(text) for name, text in shown["said"].items()}
            shown_at = datetime.fromisoformat(shown["shown_at"])
            shown_for, shown_to = shown["for"], shown["by"]
        except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
            raise self.refused("the confirmation is not one this service made") from None
        if shown_for != record:
            raise self.refused(f"the confirmation was shown for another {self.record_word}")
        if shown_to != who(actor):
            raise self.refused("the confirmation was shown to someone else")
        if not now - CONFIRM_WITHIN <= shown_at <= now + timedelta(minutes=1):
            minutes = int(CONFIRM_WITHIN.total_seconds() // 60)
            raise self.refused(
                f"the confirmation was shown more than {minutes} minutes ago, and the "
                f"{self.record_word} may have changed since"
            )
        return said

    def read_as_posted(
        self,
        value: str | None,
        record: int,
        actor: Actor,
        now: datetime,
        *,
        posted: Mapping[str, str],
        what: str,
        carries: Sequence[str] = (),
    ) -> dict[str, str]:
        """`read`, then held to the post (round 55): it must say each of `carries`
        (what the use case compares under the record's lock), and each of `posted`
        (the post's own values as the confirmation binds them: a reason's digest, a
        choice) as the post has it, else the `what` posted ("reason", "passkey or
        reason") was not the one shown: `ConfirmationRefused` either way."""
        said = self.read(value, record, actor, now)
        if any(name not in said for name in (*carries, *posted)):
            raise self.refused("the confirmation is not one this service made")
        if any(said[name] != text for name, text in posted.items()):
            raise self.refused(f"the {what} posted is not the one shown to confirm")
        return said

    def refused(self, why: str) -> ConfirmationRefused:
        return ConfirmationRefused(f"{self.not_done}: {why}. {self.nothing_done}: {self.again}.")


def differences(was: Mapping[str, str], now: Mapping[str, str], currency: str) -> list[str]:
    """What moved between the figures shown (`was`) and those read now, in words, in
    the order shown: "it was open and is paid now" for `state`, "card payment state
    succeeded then, disputed now" for another state, "amount paid 900.00 USD then,
    1,000.00 USD now" for a one-word amount, "balance due 100.00 USD then, 0.00 USD
    now" for one named in words."""
    said = []
    for name, then in was.items():
        is_now = now.get(name, "not known")
        if is_now == then:
            continue
        if name == "state":
            said.append(f"it was {then} and is {is_now} now")
        elif name.endswith("state"):
            said.append(f"{name} {then} then, {is_now} now")
        else:
            label = name if " " in name else f"amount {name}"
            said.append(
                f"{label} {_in_words(then, currency)} then, {_in_words(is_now, currency)} now"
            )
    return said


def _in_words(amount: str, currency: str) -> str:
    try:
        return in_words(Decimal(amount), currency)
    except ArithmeticError:
        return "not known"


def who(actor: Actor) -> str:
    """Who a confirmation was shown to: the user's id (their address may change)."""
    return f"user {actor.user_id}" if actor.user_id is not None else actor.name


def digest(text: str) -> str:
    """A long text (a reason, a note) as a confirmation binds it: its SHA-256 (the
    confirming post carries the text itself beside it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
