"""Round 60 (asof60): the Finance page linked each export behind its figures as CSV
only; a finance system that reads JSON Lines or a spreadsheet went to the Exports form
and typed the days, currency and filters again. Each file is now linked in every format
the exports offer, the same export with the same filters, and each gives the CSV's rows."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from licensing.accounts.models import User
from licensing.exports.formats import FORMATS
from tests.support.monthly_statements import IN_JANUARY, invoice, organization, paid


def _export_links(page: str) -> list[str]:
    return [
        html.unescape(href)
        for href in re.findall(r'<a href="([^"]*/console/exports\?[^"]*)"', page)
        if "dataset=" in href
    ]


def _without_version(row: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in row.items() if name != "schema_version"}


def _said(row: dict[str, Any]) -> dict[str, str]:
    """A JSON Lines or spreadsheet row as the CSV writes its cells: text, none empty."""
    return _without_version(
        {name: "" if value is None else str(value) for name, value in row.items()}
    )


def _cell(value: Any) -> str:
    """A spreadsheet's cell as the CSV says it: a day is a day."""
    return value.date().isoformat() if isinstance(value, datetime) else str(value)


def _query(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


def test_every_export_the_page_links_is_linked_in_every_format_with_the_same_rows(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: Any
) -> None:
    owner = organization("Larkspur Imaging")
    paid(invoice(owner.id, "1000.00", IN_JANUARY), date(2027, 1, 20))
    invoice(owner.id, "250.00", IN_JANUARY)
    with time_machine.travel(datetime(2027, 3, 10, 15, 0, tzinfo=UTC), tick=False):
        console = signed_in(client, billing_staff)
        page = console.get(
            "/console/finance/",
            query_string={"from": "2027-01", "to": "2027-02", "as_of": "2027-02-20"},
        ).get_data(as_text=True)
        links = _export_links(page)
        by_format: dict[str, dict[tuple[tuple[str, str], ...], str]] = {}
        for link in links:
            given = _query(link)
            format_name = given.pop("format", "csv")
            by_format.setdefault(format_name, {})[tuple(sorted(given.items()))] = link
        assert set(by_format) == set(FORMATS)
        csv_links = by_format["csv"]
        assert len(csv_links) == 13
        for format_name, linked in by_format.items():
            assert set(linked) == set(csv_links), format_name
        for key, link in csv_links.items():
            body = console.get(link).get_data(as_text=True)
            rows = [_without_version(row) for row in csv.DictReader(io.StringIO(body))]
            dataset = dict(key)["dataset"]
            jsonl = console.get(by_format["jsonl"][key]).get_data(as_text=True).splitlines()
            read = [json.loads(line) for line in jsonl[1:]]
            assert [_said(row) for row in read] == rows, key
            sheet = console.get(by_format["xlsx"][key])
            assert sheet.mimetype == FORMATS["xlsx"].media_type
            table = list(load_workbook(io.BytesIO(sheet.get_data()))[dataset].iter_rows())
            # Typed cells (numbers, days): the same columns, and the same records in order.
            header = [cell.value for cell in table[0] if cell.value != "schema_version"]
            assert header == list(_said(read[0]) if read else header), key
            first = header[0]
            spreadsheet = [dict(zip(header, line, strict=False)) for line in table[1:]]
            assert [_cell(row[first].value) for row in spreadsheet] == [
                row[first] for row in rows
            ], key
    # Each says what it is in words beside the format, for a screen reader.
    assert 'aria-label="invoices as of February 20, 2027, JSON Lines"' in page
    assert 'aria-label="payments received, XLSX"' in page
