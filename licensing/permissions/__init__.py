"""Educational permission requests: the public form, the staff queue, decision letters.

`init_app(app)` connects the receiver that turns a use a license application's
rate card routes to the queue (`licensing.signals.use_routed_to_permissions`)
into a permission request and the one that takes back the requests of a staff
member who may no longer review (`licensing.signals.reviewer_withdrawn`), and
has letters sealed as they are issued; blueprints are listed in `licensing.app`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from licensing.config import current_config
from licensing.mail.models import register_kept_source
from licensing.permissions import seals, services
from licensing.signals import (
    RoutedUse,
    WithdrawnReviewer,
    reviewer_withdrawing,
    reviewer_withdrawn,
    use_routed_to_permissions,
)


def on_routed_use(sender: RoutedUse, **kwargs: Any) -> None:
    """Receiver of `use_routed_to_permissions`: the edge of this use case, so it
    reads the service-level target from the running app's settings."""
    services.create_from_routed_use(
        kwargs["session"], sender, sla_days=current_config().permission_sla_days
    )


def on_reviewer_withdrawing(sender: WithdrawnReviewer, **kwargs: Any) -> None:
    """Receiver of `reviewer_withdrawing`: the staff member's open requests, locked
    before the step's first event."""
    services.lock_reviewers_requests(kwargs["session"], sender)


def on_reviewer_withdrawn(sender: WithdrawnReviewer, **kwargs: Any) -> None:
    """Receiver of `reviewer_withdrawn`: the staff member's open requests go back
    to the queue."""
    services.release_reviewer(kwargs["session"], sender, kwargs["actor"])


def init_app(app: Flask) -> None:
    # blinker keys receivers by identity: a second app connects nothing more.
    use_routed_to_permissions.connect(on_routed_use, weak=False)
    reviewer_withdrawing.connect(on_reviewer_withdrawing, weak=False)
    reviewer_withdrawn.connect(on_reviewer_withdrawn, weak=False)
    seals.register()  # letters are sealed as they are issued
    # A decision email names its letter; the outbox reads it when it sends (round 48).
    register_kept_source(services.LETTER_SOURCE, services.letter_bytes)
