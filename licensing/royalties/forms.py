"""Page forms of royalty reports: filing a period (rows typed, a CSV upload or a nil
report, each with its amendment reason and attestation) and the console's review.

The services check what is filed (`licensing.royalties.rows`); these forms read
what a page posted, so that a character no database stores comes back beside the
field that holds it, with everything typed kept (`PageForm`), like every other page.
A row's inputs are named `rows-N-COLUMN`, N from 1 as the page numbers them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from flask_wtf.file import FileField
from werkzeug.datastructures import MultiDict
from wtforms import StringField, TextAreaField

from licensing.money import ungrouped
from licensing.royalties.rows import COLUMNS
from licensing.web.forms import PageForm

# A row number as the page writes it (the rows form offers at most a few hundred).
_ROW_NUMBER_DIGITS = 5
# The column labels of the rows form, used as they are in the error summary.
COLUMN_LABELS = {
    "line": "Line",
    "customer_id": "Customer ID",
    "customer_name": "Customer name",
    "country": "Country",
    "unit": "Unit",
    "quantity": "Quantity",
    "revenue": "Revenue",
}
# The same labels inside a sentence: "Row 2, quantity: ...", "Row 2, customer ID".
COLUMN_WORDS = {column: label[:1].lower() + label[1:] for column, label in COLUMN_LABELS.items()}
# The columns a vendor types; a row with none of them is a blank row (its line
# and unit may be preselected).
TYPED_COLUMNS = ("customer_id", "customer_name", "country", "quantity", "revenue")
# The columns a vendor types a figure in: read as every page's figures are (round 56).
FIGURE_COLUMNS = ("quantity", "revenue")


class PeriodForm(PageForm):
    """What the period page posts: which of its forms (`mode`), which button
    (`action`), the amendment's reason, the attestation, a previewed CSV file carried
    to its submit button, and the typed rows (fields `rows-N-COLUMN`, made for the
    rows posted by `period_form`)."""

    action = StringField("Action")
    mode = StringField("Way of reporting")
    amends = StringField("Amendment")
    reason = TextAreaField("Reason for the amendment")
    attest = StringField("Attestation")  # "yes" when ticked
    file = FileField("CSV file")
    carried_csv = StringField("Previewed file")
    carried_name = StringField("Previewed file's name")

    row_numbers: tuple[int, ...] = ()

    def typed_rows(self) -> list[tuple[dict[str, str], dict[str, list[str]]]]:
        """The rows typed, in the page's order, blank ones left out: each row's
        values (trimmed; an unstorable character shown as U+FFFD) and its fields'
        messages by column. A row holding a message is never blank."""
        typed = []
        for number in self.row_numbers:
            values: dict[str, str] = {}
            messages: dict[str, list[str]] = {}
            for column in COLUMNS:
                field = self[row_field(number, column)]
                values[column] = (field.data or "").strip()
                if field.errors:
                    messages[column] = list(field.errors)
            if messages or any(values[column] for column in TYPED_COLUMNS):
                typed.append((values, messages))
        return typed


def as_filed(row: dict[str, str]) -> dict[str, str]:
    """A typed row as the report files it: its quantity and revenue read as every
    page's money and count fields read a figure, "1,250.00" as 1250.00 and "2,500"
    as 2500 (`money.ungrouped`: commas anywhere else are refused by the rows' own
    check, with its message). The page shows them again as typed; a CSV file and the
    API keep the contract's plain figures."""
    return {
        column: ungrouped(value) if column in FIGURE_COLUMNS else value
        for column, value in row.items()
    }


def row_field(number: int, column: str) -> str:
    return f"rows-{number}-{column}"


def posted_row_numbers(names: Iterable[str]) -> tuple[int, ...]:
    """The row numbers of the posted names `rows-N-COLUMN`, in order."""
    numbers = set()
    for name in names:
        parts = name.split("-")
        if (
            len(parts) == 3
            and parts[0] == "rows"
            and parts[1].isascii()
            and parts[1].isdigit()
            and len(parts[1]) <= _ROW_NUMBER_DIGITS
            and parts[2] in COLUMNS
        ):
            numbers.add(int(parts[1]))
    return tuple(sorted(numbers))


@lru_cache(maxsize=128)  # the page posts rows 1..N: one class per N, in practice
def _period_form_class(numbers: tuple[int, ...]) -> type[PeriodForm]:
    fields: dict[str, Any] = {"row_numbers": numbers}
    for number in numbers:
        for column in COLUMNS:
            fields[row_field(number, column)] = StringField(f"Row {number}, {COLUMN_WORDS[column]}")
    return type("PeriodFormWithRows", (PeriodForm,), fields)


def period_form(posted: MultiDict[str, str]) -> PeriodForm:
    """The period page's form as posted (`posted`: the request's form fields), with
    a field for every row it sent."""
    return _period_form_class(posted_row_numbers(posted.keys()))()


class ReviewForm(PageForm):
    """The console's review of a flagged report: the step and the note to the licensee."""

    action = StringField("Action")
    note = TextAreaField("Note to the licensee")


def field_errors(form: PageForm) -> dict[str, list[str]]:
    """The messages of `form`'s fields, but its rows' (`PeriodForm.typed_rows`), by
    field name; `_` for a posted name that is no field of the form."""
    found = {
        name: list(field.errors)
        for name, field in form._fields.items()
        if field.errors and not name.startswith("rows-")
    }
    if form.form_errors:
        found["_"] = list(form.form_errors)
    return found
