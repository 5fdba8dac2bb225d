"""Who issues invoices and where to send payment (BILLING_ISSUER, BILLING_REMIT_TO):
printed on every invoice and credit note and quoted in every email to a billing
contact; and the postal address an organization is billed at (`billing_address`).

A port wired at start-up rather than an argument: the emails that quote it are
also sent from the state machine's hooks (a refund sent) and from signal
receivers (an agreement invoiced as it becomes active), which take no settings,
and it is the office's fixed identity, like the public address of its pages
(`licensing.links`). `init_app` installs the one built from the app's `Config`;
a test may install another.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from licensing.accounts.models import Organization
from licensing.config import Config

EXTENSION = "licensing.billing.letterhead"


@dataclass(frozen=True)
class Letterhead:
    """Lines separated by "|", as in the settings."""

    issuer: str
    remit_to: str

    @property
    def remit_lines(self) -> tuple[str, ...]:
        """The payment instructions line by line, as the invoice's PDF prints them:
        none when BILLING_REMIT_TO is empty, and then no "How to pay" heading over
        them anywhere (round 55: the PDF, the emails, the invoice pages, the API)."""
        return tuple(line.strip() for line in self.remit_to.split("|") if line.strip())

    @classmethod
    def from_config(cls, config: Config) -> Letterhead:
        return cls(issuer=config.billing_issuer, remit_to=config.billing_remit_to)


def install(app: Flask, letterhead: Letterhead) -> None:
    app.extensions[EXTENSION] = letterhead


def init_app(app: Flask) -> None:
    install(app, Letterhead.from_config(app.config["LICENSING"]))


def letterhead() -> Letterhead:
    """The current app's letterhead."""
    found: Letterhead = current_app.extensions[EXTENSION]
    return found


def billing_address(organization: Organization) -> tuple[str, ...]:
    """The organization's postal address as its invoices' bill-to and its statement
    print it, a line each (the name apart)."""
    locality = " ".join(
        part
        for part in (organization.city + ",", organization.region, organization.postal_code)
        if part
    ).rstrip(",")
    lines = (organization.address_line1, organization.address_line2, locality, organization.country)
    return tuple(line for line in lines if line)
