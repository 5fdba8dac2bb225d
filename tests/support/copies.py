"""Many applications (and agreements) at once, for list pages and their benchmark:
copies of one made through the services (its uses and quotes too), each with a
product name of its own. Making each through the services would only slow the set-up; the lists
read rows, and the copies are rows like the original's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement, Application, ApplicationUse, QuoteVersion
from licensing.royalties.models import ReportingPeriod
from licensing.royalties.periods import reporting_periods
from licensing.royalties.schedule import period_rows


def _columns(record: Any, *skip: str) -> dict[str, Any]:
    keys = [attribute.key for attribute in inspect(type(record)).column_attrs]
    return {key: getattr(record, key) for key in keys if key not in ("id", *skip)}


def copy_application(
    session: Session, application_id: int, copies: int, product: str = "Invented Feed"
) -> list[int]:
    """`copies` more applications like this one, the n-th's products named
    `f"{product} {n}"`; their ids, in the order made. Commits."""
    original = session.get(Application, application_id)
    assert original is not None
    uses = list(original.uses)
    quotes = list(
        session.scalars(select(QuoteVersion).where(QuoteVersion.application_id == application_id))
    )
    made = []
    for number in range(copies):
        copy = Application(**_columns(original))
        copy.uses = [
            ApplicationUse(
                **{**_columns(use, "application_id"), "product_name": f"{product} {number}"}
            )
            for use in uses
        ]
        session.add(copy)
        session.flush()
        session.add_all(
            QuoteVersion(**{**_columns(quote), "application_id": copy.id}) for quote in quotes
        )
        made.append(copy.id)
    session.commit()
    return made


def copy_agreement(
    session: Session,
    agreement_id: int,
    application_ids: list[int],
    *,
    term: tuple[date, date],
    number_from: int = 900000,
) -> list[int]:
    """An active agreement like this one for each of `application_ids` (copies of
    its application, `copy_application`), over `term`, numbered from `number_from`
    in the term's year, with its reporting periods stored as acceptance stores them;
    their ids. Commits."""
    original = session.get(Agreement, agreement_id)
    assert original is not None
    reports = select(ReportingPeriod.id).where(ReportingPeriod.agreement_id == agreement_id)
    assert session.scalar(reports.limit(1)) is not None, "the original reports no usage"
    version = original.quote.version
    found = session.execute(
        select(QuoteVersion.application_id, QuoteVersion.id).where(
            QuoteVersion.application_id.in_(application_ids), QuoteVersion.version == version
        )
    )
    quotes = {row.application_id: row.id for row in found}
    made = []
    skip = ("number", "application_id", "quote_id", "term_start", "term_end", "renewal_of_id")
    for offset, application_id in enumerate(application_ids):
        copy = Agreement(
            **_columns(original, *skip),
            number=f"CPT-{term[0].year}-{number_from + offset:06d}",
            application_id=application_id,
            quote_id=quotes[application_id],
            term_start=term[0],
            term_end=term[1],
        )
        session.add(copy)
        session.flush()
        periods = reporting_periods(*term)
        rows = period_rows(copy.id, copy.number, copy.organization_id, periods)
        session.execute(insert(ReportingPeriod), rows)
        made.append(copy.id)
    session.commit()
    return made
