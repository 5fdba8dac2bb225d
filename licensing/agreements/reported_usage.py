"""What a licensee reported using under an agreement, for its renewal.

A renewal proposes, for each use, the quantities the licensee last reported
rather than the old application's estimates. Royalty reports live in a higher
package (`licensing.royalties`), so it fills this registry from its `init_app`
(`register`); without it, renewals copy the estimates as before. The renewal's
pages say which figure came from which report (`figures`): worked out when the
page is drawn, from the draft's quantities and the reports as they stand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from licensing.agreements import issuing
from licensing.agreements.models import Agreement, Application, ApplicationUse
from licensing.pricing import Quote


@dataclass(frozen=True)
class ReportedUsage:
    """One use's quantities (per unit, to date) in the latest accepted royalty
    report of the agreement, for that report's period."""

    quantities: Mapping[str, int]
    report: str  # "RR-000017"
    period_start: date
    period_end: date


# Per use of the agreement's application (by its index), what was last reported.
UsageOf = Callable[[Session, Agreement], Mapping[int, ReportedUsage]]
_PROVIDERS: list[UsageOf] = []


def register(provider: UsageOf) -> UsageOf:
    """Tell renewals how to find the usage reported under an agreement (the
    royalties package does, from its `init_app`)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def reported(session: Session, agreement: Agreement) -> dict[int, ReportedUsage]:
    """Per use index, the usage last reported under `agreement` (none without a
    provider or an accepted report)."""
    found: dict[int, ReportedUsage] = {}
    for provider in _PROVIDERS:
        found.update(provider(session, agreement))
    return found


def proposed(fields: dict[str, Any], usage: ReportedUsage | None) -> dict[str, Any]:
    """A renewed use's fields: the reported quantities in place of the estimated
    ones where there are some (a unit not reported keeps its estimate; revenue
    keeps its estimate, as a report's revenue covers only the periods so far)."""
    if usage is None:
        return fields
    return {**fields, "quantity": {**fields["quantity"], **usage.quantities}}


def _identity(use: ApplicationUse) -> tuple[str, str, str, str]:
    return (use.product_name, use.use, use.product_type, use.user_type)


@dataclass(frozen=True)
class Figure:
    """One quantity of a renewal's use and where it comes from."""

    unit: str
    value: int
    estimate: int | None  # the renewed application's estimate of it
    usage: ReportedUsage | None  # the report it was proposed from, if it still says so

    @property
    def source(self) -> str:
        """`report`, `estimate` (no accepted report gives it) or `changed` (by the vendor)."""
        if self.usage is not None:
            return "report"
        return "estimate" if self.value == self.estimate else "changed"


@dataclass(frozen=True)
class UseFigures:
    position: int  # the renewal's use, from 1
    product_name: str
    figures: Sequence[Figure]
    reported: ReportedUsage | None  # what the latest accepted report says of the use
    estimate_from: str  # the renewed application, "APP-000003"


def figures(session: Session, application: Application) -> list[UseFigures]:
    """For a renewal, each use's quantities and where each comes from: a royalty
    report (the draft's figure is the one it reports), the renewed application's
    estimate, or the vendor's own change. Uses are matched to the renewed
    agreement's licensed uses by product name, use, product type and user type."""
    agreement = application.renewal_of
    if agreement is None:
        return []
    usage = reported(session, agreement)
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    licensed = {line.use_index for line in issuing.licensed_lines(quote)}
    old_uses = agreement.application.uses
    by_identity: dict[tuple[str, str, str, str], int] = {}
    for old_index, old in enumerate(old_uses):
        if old_index in licensed:
            by_identity.setdefault(_identity(old), old_index)
    found = []
    for position, use in enumerate(application.uses, start=1):
        index = by_identity.get(_identity(use))
        if index is None:
            continue
        last = usage.get(index)
        estimate = old_uses[index].quantity
        found.append(
            UseFigures(
                position=position,
                product_name=use.product_name,
                figures=[
                    Figure(
                        unit,
                        value,
                        estimate.get(unit),
                        last if last is not None and last.quantities.get(unit) == value else None,
                    )
                    for unit, value in use.quantity.items()
                ],
                reported=last,
                estimate_from=agreement.application.reference,
            )
        )
    return found
