"""Whether a step of an application or an agreement would be refused now by its
own check, read from the record as loaded (round 57).

The state machines say which steps a state allows; each step's use case then
checks more (the organization's standing, a deadline, who escalated it). The
API's `allowed_actions` and the pages' presses ask these, so a step they offer is
one the use case takes. Each reads only the record and what its lists load with
it (its organization), never a statement of its own: a page of fifty rows asks
nothing more. A check that needs the database (`reissue`'s correction) is the
step's own (`services.reissue_refusals`, read for a whole page at once).
"""

from __future__ import annotations

from datetime import datetime

from licensing.accounts import services as accounts

from .models import Agreement, Application
from .queries import reconsideration_is_open
from .states import APPLICATION, ESCALATED, RETURNED

# The steps of an application its organization's users take (the API's routes for
# them admit vendors alone); the others are licensing staff's and the service's.
VENDOR_STEPS = frozenset({"submit", "resubmit", "withdraw", "request_reconsideration"})


def application_step_refused(
    application: Application, action: str, *, user_id: int | None, now: datetime
) -> bool:
    """Whether the use case of `action` refuses it on `application` now, its state
    allowing it, when taken by the user `user_id` (`submission.submit`,
    `reconsideration.request_reconsideration`, `review.approve` and `review.reject`)."""
    if action in ("submit", "resubmit"):
        if not accounts.organization_in_good_standing(application.organization):
            return True
        return (
            application.state == RETURNED
            and application.resubmit_by is not None
            and now > application.resubmit_by
        )
    if action == "request_reconsideration":
        return not reconsideration_is_open(application, now)
    if action == "approve" and not accounts.licensable(application.organization):
        return True
    if action in ("approve", "reject"):
        # The reviewer who escalated it does not decide it (`_check_second_reviewer`).
        return application.state == ESCALATED and application.escalated_by_id == user_id
    return False


def vendor_steps(application: Application, *, user_id: int | None, now: datetime) -> list[str]:
    """The steps of `application` its vendor reader may take now, as the API's
    `allowed_actions` lists them to them: the vendor's steps its state allows, less
    those the step's own check refuses (round 58: the vendor's page offered *Change
    the application* beside a submission it refused)."""
    return [
        action
        for action in APPLICATION.allowed(application.state)
        if action in VENDOR_STEPS
        and not application_step_refused(application, action, user_id=user_id, now=now)
    ]


def may_change(application: Application, *, now: datetime) -> bool:
    """Whether the vendor may change `application` now: it is a draft or returned
    and may then be submitted (round 58, refusal58: the page hid *Change the
    application* by this, the edit page and `PUT /api/v1/applications/{id}` took the
    change anyway). The page's button, the edit page and the API's update ask it."""
    return any(
        action in ("submit", "resubmit")
        for action in vendor_steps(application, user_id=None, now=now)
    )


def agreement_step_refused(agreement: Agreement, action: str) -> bool:
    """Whether the use case of `action` refuses it on `agreement` for its
    organization's standing (`acceptance.accept`: a suspended or closed
    organization accepts nothing)."""
    return action == "accept" and not accounts.licensable(agreement.organization)
