"""Many applications at once, for list pages and their benchmark: copies of one
made through the services (its uses and quotes too), each with a product name of
its own. Making each through the services would only slow the set-up; the lists
read rows, and the copies are rows like the original's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from licensing.agreements.models import Application, ApplicationUse, QuoteVersion


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
