"""Which use, product type, user type and organization type an invoice line's
revenue belongs to.

Invoice lines carry no classification of their own: it lives where the amount
was priced. Each invoice source (`Invoice.source_type`) has a *classifier* that
reads it back from there:

- `agreement` (the up-front invoice issued on acceptance): the agreement's
  quote snapshot. The invoice's lines are the licensed lines with a fixed part
  above zero, in Schedule A order (`licensing.agreements.services._charges`);
  a line is classified only when its position and amount both match, never
  guessed.
- `royalty_report`: registered by the royalties package
  (`licensing.royalties.classification`), reading its own report line table
  (report line -> agreement line -> `agreement_lines()` below).

Lines without a classifier (late fees, manual invoices) or that cannot be
matched are reported as unclassified rather than dropped, so the totals by
classification still add up to what was invoiced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.accounts.models import Organization
from licensing.agreements.issuing import licensed_lines
from licensing.agreements.models import Agreement, ApplicationUse, QuoteVersion
from licensing.billing.models import Invoice
from licensing.billing.states import AGREEMENT, ROYALTY_REPORT
from licensing.pricing.quote import Quote

UNCLASSIFIED = "unclassified"
AXES = ("use", "product_type", "user_type", "organization_type")

# A line's kind, by its invoice's source: `fee` (up front, an agreement's invoice),
# `royalty` (a royalty report's) or `other` (late fees, manual invoices).
FEE, ROYALTY, OTHER = "fee", "royalty", "other"
KIND_OF_SOURCE = {AGREEMENT: FEE, ROYALTY_REPORT: ROYALTY}


def kind_of(source_type: str) -> str:
    return KIND_OF_SOURCE.get(source_type, OTHER)


@dataclass(frozen=True)
class Classification:
    use: str
    product_type: str
    user_type: str
    organization_type: str

    def value(self, axis: str) -> str:
        found: str = getattr(self, axis)
        return found


NOT_CLASSIFIED = Classification(UNCLASSIFIED, UNCLASSIFIED, UNCLASSIFIED, UNCLASSIFIED)


@dataclass(frozen=True)
class RevenueLine:
    """An issued invoice line to classify: enough to find where it was priced."""

    invoice_line_id: int
    invoice_id: int
    source_type: str
    source_id: int | None
    position: int
    amount: Decimal


# Given the lines of one source type, answer {invoice_line_id: Classification}
# for those it can classify; the rest count as unclassified.
Classifier = Callable[[Session, Sequence[RevenueLine]], Mapping[int, Classification]]
_CLASSIFIERS: dict[str, Classifier] = {}


def register_classifier(source_type: str, classifier: Classifier) -> Classifier:
    _CLASSIFIERS[source_type] = classifier
    return classifier


def classify(session: Session, lines: Iterable[RevenueLine]) -> dict[int, Classification]:
    """Every line's classification, `NOT_CLASSIFIED` where no classifier knows it."""
    by_source: dict[str, list[RevenueLine]] = {}
    for line in lines:
        by_source.setdefault(line.source_type, []).append(line)
    found: dict[int, Classification] = {}
    for source_type, group in by_source.items():
        classifier = _CLASSIFIERS.get(source_type)
        known = classifier(session, group) if classifier else {}
        for line in group:
            found[line.invoice_line_id] = known.get(line.invoice_line_id, NOT_CLASSIFIED)
    return found


def store_classification(session: Session, invoice: Invoice) -> None:
    """Write on each of `invoice`'s lines its kind and classification as `classify`
    finds it now, when the invoice is issued (round 61, classified61): an issued
    invoice never changes, nor does what its lines were priced from, so the lists and
    exports that choose lines by classification read these columns in SQL instead of
    classifying every line of the months in Python. `billing.services.invoices.finalize_in`,
    the one place lines are issued, calls it before the step (the invoice still a draft);
    billing_0032 filled the lines issued before it with the same classification."""
    session.flush()  # the lines' ids, which `classify` answers by
    found = classify(
        session,
        [
            RevenueLine(
                line.id,
                invoice.id,
                invoice.source_type,
                invoice.source_id,
                line.position,
                line.amount,
            )
            for line in invoice.lines
        ],
    )
    kind = kind_of(invoice.source_type)
    for line in invoice.lines:
        classification = found[line.id]
        line.kind = kind
        for axis in AXES:
            setattr(line, axis, classification.value(axis))
    session.flush()  # while a draft's: an issued invoice's lines are refused any change


# --- agreements: from the quote snapshot ------------------------------------------------


@dataclass(frozen=True)
class AgreementLine:
    """A licensed line of an agreement (Schedule A), classified as priced."""

    number: int  # Schedule A's line number, from 1
    classification: Classification
    up_front: Decimal  # the fixed part invoiced on acceptance


def agreement_lines(agreement: Agreement) -> list[AgreementLine]:
    """The agreement's Schedule A lines with their classification, read from the
    quote snapshot the agreement was issued from (the application's uses and
    organization type as priced, not as they may read today)."""
    return snapshot_lines(
        agreement.quote.snapshot,
        agreement.organization.organization_type,
        lambda: [(use.use, use.product_type, use.user_type) for use in agreement.application.uses],
    )


# A use as an agreement line is classified by: (use, product type, user type).
_Use = tuple[str, str, str]


def snapshot_lines(
    snapshot: Mapping[str, Any], organization_type: str, stored_uses: Callable[[], Sequence[_Use]]
) -> list[AgreementLine]:
    """`agreement_lines` from the quote `snapshot`, the organization's type today and
    the application's uses in order (read only for a snapshot without its request)."""
    quote = Quote.from_snapshot(snapshot)
    request = quote.request
    uses = stored_uses() if request is None else ()
    organization_type = request.organization_type if request else organization_type
    lines = []
    for number, line in enumerate(licensed_lines(quote), start=1):
        if request is not None:
            proposed = request.uses[line.use_index]
            use, product_type, user_type = (
                proposed.use,
                proposed.product_type,
                proposed.user_type,
            )
        else:
            use, product_type, user_type = uses[line.use_index]
        fixed = line.breakdown.fixed if line.breakdown is not None else Decimal(0)
        lines.append(
            AgreementLine(
                number, Classification(use, product_type, user_type, organization_type), fixed
            )
        )
    return lines


def _charged_lines(session: Session, ids: set[int]) -> dict[int, list[AgreementLine]]:
    """Each agreement's lines invoiced up front (`agreement_lines` with a fixed part
    above zero), by id: from narrow rows (the quote's snapshot and the organization's
    type), each snapshot read once, not from whole agreements with their relations
    (round 52: loading those was most of the Finance page's classifying)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Agreement.id, Agreement.application_id, QuoteVersion.snapshot_json)
        .add_columns(Organization.organization_type)
        .join(QuoteVersion, QuoteVersion.id == Agreement.quote_id)
        .join(Organization, Organization.id == Agreement.organization_id)
        .where(Agreement.id.in_(ids))
    )
    charged: dict[int, list[AgreementLine]] = {}
    for agreement_id, application_id, snapshot, organization_type in rows:

        def stored_uses(application_id: int = application_id) -> list[_Use]:
            return [
                (use, product_type, user_type)
                for use, product_type, user_type in session.execute(
                    select(ApplicationUse.use, ApplicationUse.product_type)
                    .add_columns(ApplicationUse.user_type)
                    .where(ApplicationUse.application_id == application_id)
                    .order_by(ApplicationUse.position)
                )
            ]

        lines = snapshot_lines(json.loads(snapshot), organization_type, stored_uses)
        charged[agreement_id] = [line for line in lines if line.up_front > 0]
    return charged


def classify_up_front_lines(
    session: Session, lines: Sequence[RevenueLine]
) -> dict[int, Classification]:
    """An agreement invoice's line N is the N-th licensed line with an up-front
    amount; kept only when that line's amount is the invoice line's amount."""
    charged = _charged_lines(session, {line.source_id for line in lines if line.source_id})
    found: dict[int, Classification] = {}
    for line in lines:
        candidates = charged.get(line.source_id or 0, [])
        if 1 <= line.position <= len(candidates):
            candidate = candidates[line.position - 1]
            if candidate.up_front == line.amount:
                found[line.invoice_line_id] = candidate.classification
    return found


register_classifier("agreement", classify_up_front_lines)
