"""Applications, agreements, acceptance and the agreement PDF.

`init_app(app)` has issued agreements sealed (`licensing.audit.seals`) and
connects the receiver that takes back the applications of a staff member who may
no longer review (`licensing.signals.reviewer_withdrawn`) and the one that
withdraws a closed organization's undecided applications (`organization_closed`), and
the one that emails the licensees of agreements a rate card just published corrects
(`rate_card_published`, round 61; after the card's commit, in batches, round 62).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from licensing.accounts import services as accounts
from licensing.agreements import seals, services
from licensing.agreements.queries import open_licensing
from licensing.signals import (
    ClosedOrganization,
    ClosingOrganization,
    PublishedCard,
    WithdrawnReviewer,
    organization_closed,
    organization_closing,
    rate_card_published,
    reviewer_withdrawing,
    reviewer_withdrawn,
)


def on_reviewer_withdrawing(sender: WithdrawnReviewer, **kwargs: Any) -> None:
    services.lock_reviewers_applications(kwargs["session"], sender)


def on_reviewer_withdrawn(sender: WithdrawnReviewer, **kwargs: Any) -> None:
    services.release_reviewer(kwargs["session"], sender, kwargs["actor"])


def on_organization_closing(sender: ClosingOrganization, **kwargs: Any) -> None:
    services.lock_undecided(kwargs["session"], sender)


def on_organization_closed(sender: ClosedOrganization, **kwargs: Any) -> list[str]:
    """The references withdrawn, which the closing email names (round 49)."""
    return services.withdraw_for_closed(kwargs["session"], sender, kwargs["actor"])


def on_rate_card_published(sender: PublishedCard, **kwargs: Any) -> tuple[list[str], list[str]]:
    """The agreements whose licensees were emailed that the card corrects theirs, and
    those told without an email (round 62: a second correction pricing their uses as
    the one they were told of)."""
    told = services.tell_card_corrected(sender)
    return told.emailed, told.unchanged


def init_app(app: Flask) -> None:
    # blinker keys receivers by identity: a second app connects nothing more.
    reviewer_withdrawing.connect(on_reviewer_withdrawing, weak=False)
    reviewer_withdrawn.connect(on_reviewer_withdrawn, weak=False)
    organization_closing.connect(on_organization_closing, weak=False)
    organization_closed.connect(on_organization_closed, weak=False)
    rate_card_published.connect(on_rate_card_published, weak=False)
    seals.register()
    accounts.register_open_business("licensing", open_licensing)
    accounts.register_ended_by_closing("applications", services.ended_by_closing)
