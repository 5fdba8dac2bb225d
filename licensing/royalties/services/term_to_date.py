"""What an agreement's usage-based lines have been charged so far in its term, for
the agreement's page (`agreement_to_date`, a template global set by `init_app`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement
from licensing.pricing import Quote

from .obligations import REPORTING_STATES, current_reports, obligations
from .usage import _charged_to_date, _last_reported


@dataclass(frozen=True)
class ChargedToDate:
    """What the term is charged so far: over the reportable lines, `C_last` (the
    up-front amounts before any report), what the royalty-report contract makes
    invoiced minus credited for them; and every other licensed line's fee, charged
    in full up front."""

    amount: Decimal
    currency: str
    through: date | None  # the last reported period's end; None before any report
    # What the agreement's invoices have charged, less their credit notes (the lists'
    # and API's `charged_to_date`); differs from `amount` where billing staff credited
    # or voided outside the reports. None where not read.
    invoiced_net: Decimal | None = None


def charged_to_date(session: Session, agreement: Agreement) -> ChargedToDate | None:
    """None for an agreement that reports nothing (no usage-based line, or not in a
    reporting state): its total for the term is what it is charged."""
    if agreement.state not in REPORTING_STATES:
        return None
    obligation = obligations(session, agreement)
    if not obligation.lines:
        return None
    last = _last_reported(current_reports(session, agreement.id))
    charged = _charged_to_date(session, obligation, last)
    quoted = {
        line.use_index: line.amount for line in Quote.from_snapshot(agreement.quote.snapshot).lines
    }
    estimated = sum((quoted[line.use_index] or Decimal(0) for line in obligation.lines), Decimal(0))
    fixed = (agreement.total or Decimal(0)) - estimated
    return ChargedToDate(
        amount=fixed + sum(charged.values(), Decimal(0)),
        currency=agreement.currency,
        through=obligation.periods[last - 1].end if last else None,
    )
