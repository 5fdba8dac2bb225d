"""What a licensee reported using under an agreement, for its renewal.

A renewal proposes, for each use, the quantities the licensee last reported
rather than the old application's estimates. Royalty reports live in a higher
package (`licensing.royalties`), so it fills this registry from its `init_app`
(`register`); without it, renewals copy the estimates as before. Where each
proposed figure came from is kept with the renewal when it is drawn (`sources`,
in `Application.renewal_sources_json`), and the renewal's pages and the API say
so from it (`figures`), beside the draft's quantities as they stand: a report
filed later changes neither the figures nor what is said of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement, Application, ApplicationUse


@dataclass(frozen=True)
class ReportedUsage:
    """One use's quantities (per unit, to date) in the latest accepted royalty
    report of the agreement, for that report's period."""

    quantities: Mapping[str, int]
    report: str  # "RR-000017"
    period_start: date
    period_end: date
    report_id: int | None = None


# Per agreement (by id), per use of its application (by index), what was last
# reported: for any number of agreements at once (the rate-card check prices every
# renewal candidate; a renewal drawn asks for one).
UsageOf = Callable[[Session, Sequence[Agreement]], Mapping[int, Mapping[int, ReportedUsage]]]
_PROVIDERS: list[UsageOf] = []


def register(provider: UsageOf) -> UsageOf:
    """Tell renewals how to find the usage reported under agreements (the
    royalties package does, from its `init_app`)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def reported(session: Session, agreement: Agreement) -> dict[int, ReportedUsage]:
    """Per use index, the usage last reported under `agreement` (none without a
    provider or an accepted report): `reported_of` one agreement."""
    return reported_of(session, [agreement])[agreement.id]


def reported_of(
    session: Session, agreements: Sequence[Agreement]
) -> dict[int, dict[int, ReportedUsage]]:
    """`reported` of each agreement, by its id, in as many statements as the
    providers take for a batch, however many agreements."""
    found: dict[int, dict[int, ReportedUsage]] = {agreement.id: {} for agreement in agreements}
    for provider in _PROVIDERS:
        for agreement_id, usage in provider(session, agreements).items():
            found[agreement_id].update(usage)
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
    recorded: bool = True  # False: drawn before the sources were kept

    @property
    def source(self) -> str:
        """`report`, `estimate` (no accepted report gave it) or `changed` (by the
        vendor); a renewal drawn before the sources were kept says `estimate`."""
        if self.usage is not None:
            return "report"
        if not self.recorded:
            return "estimate"
        return "estimate" if self.value == self.estimate else "changed"


@dataclass(frozen=True)
class UseFigures:
    position: int  # the renewal's use, from 1
    product_name: str
    figures: Sequence[Figure]
    reported: ReportedUsage | None  # what the latest accepted report said of the use
    estimate_from: str | None  # the renewed application, "APP-000003"
    recorded: bool = True  # False: a renewal drawn before the sources were kept


UsageBy = Mapping[int, ReportedUsage]


def sources(
    agreement: Agreement, renewed: Sequence[tuple[int, ApplicationUse]], usage: UsageBy
) -> str:
    """What to keep with a renewal when it is drawn (`renewal_sources_json`): per
    renewed use (by `(index, use)` of the agreement's application), what it is, its
    estimate and the report its quantities were proposed from, if any."""
    kept = []
    for index, use in renewed:
        last = usage.get(index)
        kept.append(
            {
                "identity": list(_identity(use)),
                "estimates": dict(use.quantity),
                "estimate_from": agreement.application.reference,
                "report": None
                if last is None
                else {
                    "reference": last.report,
                    "id": last.report_id,
                    "period_start": last.period_start.isoformat(),
                    "period_end": last.period_end.isoformat(),
                    "quantities": dict(last.quantities),
                },
            }
        )
    return json.dumps(kept, sort_keys=True)


def _usage_kept(report: dict[str, Any] | None) -> ReportedUsage | None:
    if report is None:
        return None
    return ReportedUsage(
        quantities=report["quantities"],
        report=report["reference"],
        period_start=date.fromisoformat(report["period_start"]),
        period_end=date.fromisoformat(report["period_end"]),
        report_id=report.get("id"),
    )


def figures(application: Application) -> list[UseFigures]:
    """For a renewal, each use's quantities and where each comes from, as kept when
    it was drawn: a royalty report (the draft's figure is still the one it
    reported), the renewed application's estimate, or the vendor's own change.
    Uses are matched to the kept ones by product name, use, product type and user
    type. A renewal drawn before the sources were kept says "from the estimate".
    Reads nothing beyond the application and its uses."""
    if application.renewal_of_id is None:
        return []
    if application.renewal_sources_json is None:
        return [
            UseFigures(
                position=position,
                product_name=use.product_name,
                figures=[
                    Figure(unit, value, None, None, recorded=False)
                    for unit, value in use.quantity.items()
                ],
                reported=None,
                estimate_from=None,
                recorded=False,
            )
            for position, use in enumerate(application.uses, start=1)
        ]
    kept: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in json.loads(application.renewal_sources_json):
        kept.setdefault(tuple(entry["identity"]), entry)
    found = []
    for position, use in enumerate(application.uses, start=1):
        entry = kept.get(_identity(use))
        if entry is None:  # a use the vendor added to the renewal
            continue
        last = _usage_kept(entry["report"])
        estimates = entry["estimates"]
        found.append(
            UseFigures(
                position=position,
                product_name=use.product_name,
                figures=[
                    Figure(
                        unit,
                        value,
                        estimates.get(unit),
                        last if last is not None and last.quantities.get(unit) == value else None,
                    )
                    for unit, value in use.quantity.items()
                ],
                reported=last,
                estimate_from=entry["estimate_from"],
            )
        )
    return found
