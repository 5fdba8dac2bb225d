"""Round 44: the Exports page offered Use, Organization and the receivables' *As of*
(and State) for every dataset; a field the dataset does not take was refused only
after Export. Each dataset's option now carries, for each field it does not take,
the server's refusal in the page's words, for the page's script to disable the
field with that note beside it; without the script the refusal stays as it was."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask

from licensing.exports import base, filters

# What the script may disable: every field a dataset may not take.
MARKED = (
    "from",
    "to",
    "by",
    "organization",
    "state",
    "currency",
    "use",
    "as_of",
    "owed_back_on",
    # Round 60 (linesfig60): invoice lines as the Finance page classifies them.
    "kind",
    "product_type",
    "user_type",
    "organization_type",
)
# A value of each that the form would send.
VALUES = {
    "organization": "1",
    "state": "paid",
    "use": "development",
    "as_of": "2027-01-31",
    # Round 59 (financelists59): the receivables owed back at the end of a day.
    "owed_back_on": "2027-01-31",
    # Round 60 (linesfig60): the invoice lines' kind and classification.
    "kind": "royalty",
    "product_type": "saas",
    "user_type": "provider",
    "organization_type": "commercial",
}


def _option(page: str, name: str) -> str:
    found = re.search(rf'<option value="{name}" data-date-bases[^>]*>', page)
    assert found is not None, name
    return found.group(0)


def test_each_datasets_option_says_why_it_does_not_take_a_field_as_the_server_refuses_it(
    app: Flask, signed_in: Any, billing_staff: Any
) -> None:
    console = signed_in(app.test_client(), billing_staff)
    page = console.get("/console/exports").get_data(as_text=True)
    for field in MARKED:
        assert re.search(
            rf'<(select|input[^>]*) id="{field}" name="{field}"[^>]* data-filter="{field}"', page
        ), field
        assert f'<p class="hint" id="{field}-offered" aria-live="polite"></p>' in page
    seen = set()
    for name, dataset in base.all_datasets().items():
        option = _option(page, name)
        marks = dict(re.findall(r' data-not-taken-([a-z-]+)="([^"]*)"', option))
        assert set(marks) == {field.replace("_", "-") for field in filters.not_taken(dataset)}
        for mark, why in marks.items():
            field = mark.replace("-", "_")
            seen.add(field)
            # The no-script path: the server's refusal beside the field, word for word.
            refused = console.get(
                "/console/exports", query_string={"dataset": name, field: VALUES[field]}
            )
            assert refused.status_code == 422
            beside = re.search(
                rf'<p class="error" id="{field}-error">([^<]*)</p>', refused.get_data(as_text=True)
            )
            assert beside is not None, (name, field)
            assert html.unescape(beside.group(1)) == html.unescape(why)
    # Use, As of and Refunds owed at the end of are not every dataset's; nor is State
    # (credit notes have none).
    # Round 60: nor the Finance page's kind and classification (invoice lines alone;
    # round 61, lines61: and credit note lines).
    assert seen == {
        "use",
        "as_of",
        "owed_back_on",
        "state",
        "kind",
        "product_type",
        "user_type",
        "organization_type",
    }
    invoices = _option(page, "invoices")
    # Round 59 (asof59): the invoices take a day their balances are as of; not
    # financelists59's refunds owed (the receivables' alone), nor Use; nor (round 60)
    # the invoice lines' kind and three classification axes.
    assert html.unescape(invoices).count("does not filter by") == 6
    assert (
        'data-not-taken-use="The Invoices export does not filter by Use (it takes From, To, '
        'Dates apply to, Organization, State, Currency, Balances as of)."'
    ) in html.unescape(invoices)
