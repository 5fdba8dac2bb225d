"""Round 10 of the console journeys: the Exports page's table of datasets in the
form's words."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask

from licensing.exports import base
from licensing.exports.views import FIELD_LABELS


def _dataset_rows(page: str) -> dict[str, list[str]]:
    """Each dataset's row of the Datasets table by its parameter name (shown in
    `<code>`), as the cells' texts."""
    table = page.split("<h2>Datasets</h2>", 1)[1]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = [
            html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell))).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        name = re.search(r"<code>(\w+)</code>", row)
        if name and cells:
            rows[name.group(1)] = cells
    return rows


def test_the_datasets_table_names_filters_dates_and_states_as_the_form_does(
    app: Flask, billing_staff: Any, signed_in: Any
) -> None:
    """It listed `as of`, `issued`, `uncollectible` (parameter names and values)
    where the form above it says "Receivables as of", "Issue date" (and its State
    options say the states as it does)."""
    page = signed_in(app.test_client(), billing_staff).get("/console/exports")
    assert page.status_code == 200
    rows = _dataset_rows(page.get_data(as_text=True))
    assert rows.keys() == base.all_datasets().keys()
    receivables = rows["receivables"]
    assert receivables[3] == "Issue date"
    assert receivables[4] == "Organization, Currency, Receivables as of"
    invoices = rows["invoices"]
    assert invoices[3] == "Issue date, Paid date"
    assert invoices[4] == "Organization, State, Currency State: open, paid, void, uncollectible"
    agreements = rows["agreements"]
    assert agreements[3] == "Period, Issue date"
    assert agreements[4].startswith("Organization, State, Currency, Use State: ")
    for name, dataset in base.all_datasets().items():
        # Every filter a dataset takes is named (none drops out for want of a label).
        assert dataset.filters <= FIELD_LABELS.keys(), name
        assert "_" not in rows[name][4], name
