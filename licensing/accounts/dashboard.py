"""The vendor portal's home: the organization, its standing, and what waits on whom
(each feature adds its items and panels through `licensing.web.portal`)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy.orm import Session

from licensing import access, db
from licensing.accounts import queries, services
from licensing.accounts.models import Organization
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.web.navigation import may_open
from licensing.web.portal import dashboard_context_for, waiting_items, waiting_question

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.route("/")
@access.vendor
def dashboard() -> str:
    """The vendor's home after signing in."""
    principal = access.require_principal()
    session = db.session()
    # The features' "anything waiting?" conditions are read in the organization's row.
    asked = waiting_question()
    organization, member_count, answers = queries.own_organization_and_members(
        session, principal, asked.columns, asked.parameters(principal.organization_id or 0)
    )
    return render_template(
        "portal/dashboard.html",
        organization=organization,
        good_standing=services.organization_in_good_standing(organization),
        block_reason=block_reason(session, organization),
        member_count=member_count,
        waiting=waiting_items(session, principal, organization, answers),
        **dashboard_context_for(session, organization),
    )


def block_reason(session: Session, organization: Organization) -> str | None:
    """Why the organization may not apply now, as the viewer can act on it: a reader
    who files no royalty report (a billing member) is told whom to ask to file the
    overdue ones, not to file them."""
    filers = (
        None
        if may_open("royalties.portal_period")
        else services.whom_to_ask(session, organization.id)
    )
    return services.standing_block_reason_now(
        session, organization, organization.id, office_date(utcnow()), report_filers=filers
    )
