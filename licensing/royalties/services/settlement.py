"""Invoicing or crediting the change a filing makes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from licensing.actors import Actor
from licensing.agreements import hand_priced
from licensing.billing import services as billing
from licensing.billing.models import Invoice, amending_words
from licensing.billing.states import COLLECTIBLE, PAID, ROYALTY_REPORT
from licensing.calendar import days_text
from licensing.errors import Conflict
from licensing.money import in_words
from licensing.words import priced_words

from ..models import RoyaltyReport
from .obligations import Filing, Obligations


def _creditable(agreement_id: int) -> Select[Invoice]:
    """The agreement's royalty invoices a filing that lowers the royalty credits."""
    return (
        select(Invoice)
        .join(RoyaltyReport, RoyaltyReport.id == Invoice.source_id)
        .where(
            Invoice.source_type == ROYALTY_REPORT,
            RoyaltyReport.agreement_id == agreement_id,
            Invoice.state.in_(sorted({*COLLECTIBLE, PAID})),
        )
    )


def lock_creditable(session: Session, agreement_id: int) -> None:
    """Lock the royalty invoices a filing of the agreement may credit, by id, before
    the filing's first audited step (round 55; the lock order,
    `licensing/royalties/services/__init__.py`): a payment locks its invoice and then
    takes its turn on the audit log, so a filing that audited first (the report it
    supersedes) and locked the invoice only to credit it deadlocked with it."""
    session.scalars(_creditable(agreement_id).order_by(Invoice.id).with_for_update()).all()


@dataclass(frozen=True)
class _Settlement:
    """The royalty change a filed report makes, invoiced (more due) or credited
    (less due) in the filing's transaction."""

    session: Session
    obligation: Obligations
    report: RoyaltyReport
    actor: Actor
    moment: datetime

    def settle(self, filing: Filing) -> None:
        total = filing.total_due
        if total > 0:
            invoice = self._invoice(filing)
            self.report.invoice_id = invoice.id
            filing.invoice_number = invoice.number
        elif total < 0:
            filing.credit_notes = self._credit(-total)
            self.report.credit_notes_json = json.dumps(filing.credit_notes)

    def _invoice(self, filing: Filing) -> Invoice:
        agreement = self.obligation.agreement
        report = self.report
        what = "Amended royalty" if report.amends_id else "Royalty"
        charges = [
            billing.Charge(
                description=(
                    f"{what}, line {line.line} ({self.obligation.product_names[line.line]}; "
                    # Round 50: the rule and card that price it, as its working names
                    # them: the finance export carries the description, not the working.
                    f"rule {self.obligation.line(line.line).rule.id} of rate card "
                    f"{agreement.rate_card}), period {filing.period.label}"
                    # An amendment's working is to date through the last period reported.
                    + (f", to date through {filing.through.end}" if filing.through else "")
                    + (" (deduction)" if line.due < 0 else "")
                ),
                amount=line.due,
                working="; ".join(line.explanation),
            )
            for line in filing.lines
            if line.due != 0
        ]
        return billing.create_invoice(
            self.session,
            organization_id=agreement.organization_id,
            currency=agreement.currency,
            charges=charges,
            source_type=ROYALTY_REPORT,
            source_id=report.id,
            source_reference=f"{agreement.number} {filing.period.start.isoformat()}",
            payment_terms_days=agreement.payment_terms_days,
            late_fee_monthly_percent=agreement.late_fee_monthly_percent,
            memo=(
                # Round 50: the term, as the up-front invoice's memo says it: a prorated
                # minimum's "x 1/5" counts its days.
                f"Royalty report {report.reference} under license agreement {agreement.number}, "
                # Round 57: its days in words, as the page and the PDF print it.
                f"term {days_text(agreement.term_start, agreement.term_end)} ("
                # Round 67: by the one rule, as the up-front invoice's memo says it.
                + priced_words(
                    hand_priced.card_that_priced(
                        self.session, agreement.rate_card, agreement.term_start
                    )
                )
                + f"), for the period "
                f"{days_text(filing.period.start, filing.period.end)}"
                + (
                    amending_words(RoyaltyReport.reference_of(report.amends_id))
                    if report.amends_id
                    else ""
                )
                + "."
            ),
            deductions=True,
            actor=self.actor,
            now=self.moment,
        )

    def _credit(self, amount: Decimal) -> list[str]:
        """Credit `amount` against the agreement's royalty invoices, newest first."""
        agreement = self.obligation.agreement
        report = self.report
        # Locked already, before the filing's first audited step (`lock_creditable`).
        invoices = self.session.scalars(
            _creditable(agreement.id).order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        ).all()
        numbers = []
        remaining = amount
        # Round 50: the whole of what the report lowers, which each credit note is part
        # of when it is spread over several invoices (the report's total due, negated).
        reason = (
            f"Royalty report {report.reference} for {report.period_start.isoformat()} lowers the "
            f"royalty of agreement {agreement.number} by {in_words(amount, report.currency)} "
            "in all"
        )
        for invoice in invoices:
            creditable = invoice.total - invoice.amount_credited
            if remaining <= 0 or creditable <= 0:
                continue
            portion = min(remaining, creditable)
            note = billing.credit_invoice(
                self.session,
                invoice,
                amount=portion,
                reason=reason,
                actor=self.actor,
                now=self.moment,
                # The filer changed the royalty; the office's note is the service's.
                issuer=Actor.SYSTEM,
            )
            numbers.append(note.number)
            remaining -= portion
        if remaining > 0:
            raise Conflict(
                f"The report lowers the royalty by {in_words(amount, report.currency)}, more "
                "than the agreement's royalty invoices leave to credit; ask billing staff."
            )
        return numbers
