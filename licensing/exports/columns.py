"""Columns several datasets write with the same name and the same meaning.

A dataset composes its `COLUMNS` from these and its own. One definition each, so
the licensee or a document number means the same in every file finance reads;
a column that only shares a name (`amount`, `kind`, `total`) but means something
else in each dataset stays in its dataset. A column holding one word of a
vocabulary (a state, a kind) is described from the vocabulary (`one_of`).
"""

from __future__ import annotations

from collections.abc import Iterable

from licensing.billing.states import PAYMENT_METHODS
from licensing.exports.base import DATE, DATETIME, INTEGER, TEXT, Column
from licensing.references import ROYALTY_REPORT

# The organization that owns the record: every dataset has both, side by side.
LICENSEE = (
    Column("organization_id", INTEGER, "The licensee's id."),
    Column("organization", TEXT, "The licensee's legal name (today's)."),
)
CURRENCY = Column("currency", TEXT, "ISO 4217 code.")


def id_of(record: str) -> Column:
    """The column `<record>_id`, the record's id in the service ("credit_note":
    `credit_note_id`, "The credit note's id in the service.")."""
    return Column(f"{record}_id", INTEGER, f"The {record.replace('_', ' ')}'s id in the service.")


INVOICE_ID = id_of("invoice")
INVOICE_NUMBER = Column("invoice_number", TEXT, "INV-YYYY-NNNNNN.")
INVOICE_ISSUE_DATE = Column("issue_date", DATE, "The invoice's issue date.")
AGREEMENT_NUMBER = Column("agreement_number", TEXT, "CPT-YYYY-NNNNNN.")
CREDIT_NOTE_NUMBER = Column("credit_note_number", TEXT, "CN-YYYY-NNNNNN.")
CREDITED_INVOICE = Column("invoice_number", TEXT, "The invoice it credits.")


def report_number(report_id: int | None) -> str | None:
    """A royalty report's number, RR-NNNNNN, as its invoice's memo, its credit notes'
    reasons and its pages name it (`Field(column, <report id>, report_number)`)."""
    return None if report_id is None else ROYALTY_REPORT(report_id)


# A document's own issue date (an invoice's, a credit note's).
ISSUE_DATE = Column("issue_date", DATE, "The day it was issued.")


def one_of(vocabulary: Iterable[str], note: str = "") -> str:
    """The meaning of a column that holds one word of `vocabulary`, read from it:
    "open, paid or void." (`note` in parentheses before the full stop). So the
    reference lists exactly what the service writes, and the states a `state`
    filter takes."""
    *most, last = vocabulary
    words = f"{', '.join(most)} or {last}" if most else last
    return f"{words} ({note})." if note else f"{words}."


# Money moved by card or offline: payments collected and refunds sent.
METHOD = Column("method", TEXT, one_of(PAYMENT_METHODS))
BANK_REFERENCE = Column("reference", TEXT, "Bank or check reference (offline).")
RECORDED_AT = Column("created_at", DATETIME, "When it was recorded or started (UTC).")
