"""A royalty report's steps, and whether each would be refused now (round 59,
refusals59), as `licensing.agreements.step_checks` says them for applications.

A current (submitted) report is amended by its organization's users and reviewed by
licensing and billing staff; a superseded one takes no step. Amending is refused once
the agreement no longer reports (`REPORTING_STATES`) or ended more than a year ago.
The API's `allowed_actions` of a report, its 409s and the pages' presses ask these,
so a step they offer is one its use case takes. Each reads the report and its
agreement (by key, from the session), never a statement of its own.
"""

from __future__ import annotations

from datetime import date

from licensing import db
from licensing.agreements.models import Agreement
from licensing.errors import IllegalTransition

from ..models import RoyaltyReport
from ..states import REVIEW, SUBMITTED
from .obligations import REPORTING_STATES, last_reported_day

# The vendor's step: file an amendment of the period's current report (`filing.submit`
# with `amends`). Not an action of the report's machine: the amendment supersedes it.
AMEND = "amend"

# Each step in a refusal's words.
STEP_WORDS = {
    AMEND: "be amended",
    "mark_reviewed": "be marked reviewed",
    "request_correction": "be sent back for a correction",
}


def last_amendment_day(term_end: date) -> date:
    """The last day a period of an agreement that ended on `term_end` may be
    amended: the same day a calendar year later (28 February for 29 February).
    After it the agreement ended "more than a year ago" (the contract's words),
    which 365 days miscounted whenever a 29 February fell in between."""
    try:
        return term_end.replace(year=term_end.year + 1)
    except ValueError:  # 29 February: a year later has none
        return term_end.replace(year=term_end.year + 1, day=28)


def not_reporting(agreement: Agreement) -> str:
    """Why no report of `agreement` is filed or amended: its state."""
    return (
        f"Agreement {agreement.number} is {agreement.state}; reports are filed for active "
        "agreements, for expired or renewed ones for their last periods, and for "
        "terminated ones for the periods they were in force."
    )


def amendment_refusal(agreement: Agreement, today: date) -> str | None:
    """Why the reports of `agreement` cannot be amended on the office day `today`, in
    the words the filing refuses an amendment with; None where they can."""
    if agreement.state not in REPORTING_STATES:
        return not_reporting(agreement)
    ended_on = last_reported_day(agreement) or agreement.term_end
    if today > last_amendment_day(ended_on):
        return (
            f"Agreement {agreement.number} ended on {ended_on}, more than a year ago; its "
            "reports can no longer be amended."
        )
    return None


def report_steps(report: RoyaltyReport) -> list[str]:
    """The steps `report`'s states allow, whoever takes them: a current report's
    amendment and its review's steps (`review.review_actions`); none of a superseded
    one (its amendment came)."""
    if report.state != SUBMITTED:
        return []
    return sorted([AMEND, *REVIEW.allowed(report.review_state)])


def report_step_refused(report: RoyaltyReport, action: str, *, today: date) -> bool:
    """Whether the use case of `action` refuses it on `report` now, its states
    allowing it: an amendment once the agreement's reports can no longer be amended."""
    if action != AMEND:
        return False
    agreement = db.session().get(Agreement, report.agreement_id)
    return agreement is None or amendment_refusal(agreement, today) is not None


def refused_report_step(report: RoyaltyReport, action: str, detail: str) -> IllegalTransition:
    """A step refused on `report` in the use case's own words (`detail`): the 409 then
    lists the caller's own steps of that report (its `allowed_actions`, read by the
    edge through `record_id`), as a step its machine refuses does (round 58). Until
    round 59 these were plain conflicts listing nothing, and a vendor amending a
    report past its year was not told there was nothing left to do to it."""
    refused = IllegalTransition(
        "royalty report",
        report.state,
        action,
        report_steps(report),
        steps=STEP_WORDS,
        record_id=report.id,
    )
    refused.detail = detail
    refused.args = (detail,)
    return refused
