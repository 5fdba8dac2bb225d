"""Round 64: gunicorn reads the request line before the app sees anything, and
answers a longer one than `limit_request_line` itself (414, text/html). Its
default, 4,094 bytes, refused legal API requests. The longest request line each
operation can be sent with, its every argument at the bound the OpenAPI document
declares, is worked out here from the document and held within the figure
`licensing.serving.SETTINGS` gives gunicorn; tests/integration/test_serving.py
sends the longest through the real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from licensing.app import create_app
from licensing.limits import MAX_RECORD_ID
from licensing.pricing.ratecard import VERSION_MAX
from licensing.royalties.models import REASON_MAX
from licensing.serving import SETTINGS
from licensing.worker import JOBS
from tests.conftest import DatabaseTemplate, make_config

# A text of N characters at its longest on the wire: each character four bytes of
# UTF-8 (an emoji, a CJK extension ideograph), each byte percent-encoded (%XX).
PER_CHARACTER = 12
# An ASCII value (a number, a day, a word of a vocabulary), each byte percent-encoded:
# legal, if no client needs to.
PER_ASCII = 3
# " HTTP/1.1" after the target.
VERSION = len(" HTTP/1.1")
# The path's text parameters the document leaves unbounded: what they can name.
PATH_TEXT = {
    "version": VERSION_MAX * PER_CHARACTER,  # a rate card's version, any text
    "token": 43 * PER_ASCII,  # a status link's secret: secrets.token_urlsafe(32)
    "name": max(len(job.name) for job in JOBS) * PER_ASCII,  # "payments match-disputes"
    "period_start": 10 * PER_ASCII,  # YYYY-MM-DD
}
# The one argument that cannot fit at its bound in every script: a CSV royalty
# filing's amendment reason, which the contract puts in the query (a JSON filing
# carries it in the body). At its bound it fits when written in ASCII.
REASON_PATHS = (
    "/api/v1/agreements/{agreement_id}/royalty-reports/{period_start}",
    "/api/v1/agreements/{agreement_id}/royalty-reports/{period_start}/preview",
)
ASCII_ONLY = {("POST", path, "reason") for path in REASON_PATHS}


@pytest.fixture(scope="module")
def document(sqlite_template: DatabaseTemplate) -> Iterator[dict[str, Any]]:
    """The OpenAPI document (the same for every backend and app of a process)."""
    app = create_app(make_config(sqlite_template.new_url()))
    try:
        yield app.test_client().get("/api/v1/openapi.json").get_json()
    finally:
        app.extensions["licensing.db"].engine.dispose()


def _resolved(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in parameter:
        parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
    return parameter


def _longest_value(schema: dict[str, Any], per_character: int) -> int:
    """The most bytes a value of `schema` takes in a URL."""
    if "enum" in schema:
        return PER_ASCII * max(len(str(value)) for value in schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        return PER_ASCII * len(str(schema.get("maximum", MAX_RECORD_ID)))
    if kind == "boolean":
        return PER_ASCII * len("false")
    if schema.get("format") == "date":
        return PER_ASCII * len("2027-01-01")
    if "pattern" in schema:  # a month, YYYY-MM: the document's only pattern here
        assert schema["pattern"] == "^[0-9]{4}-(0[1-9]|1[0-2])$"
        return PER_ASCII * len("2027-01")
    assert kind == "string", schema
    assert "maxLength" in schema, f"unbounded: {schema}"
    return per_character * int(schema["maxLength"])


def longest_lines(document: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Each operation's longest request line: its path's parameters at their longest
    and every query argument it takes given once at its bound (a list argument each
    of its values once; a one-value argument given twice is refused, round 56)."""
    lines = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            method = method.upper()
            parameters = [
                _resolved(document, given)
                for given in item.get("parameters", []) + operation.get("parameters", [])
            ]
            target, arguments = len(path), []
            for parameter in parameters:
                name, schema = parameter["name"], parameter.get("schema", {})
                per_character = PER_ASCII if (method, path, name) in ASCII_ONLY else PER_CHARACTER
                if parameter["in"] == "path":
                    longest = (
                        _longest_value(schema, per_character)
                        if schema.get("type") == "integer"
                        else PATH_TEXT.get(name)
                    )
                    if longest is None:  # named by a vocabulary: the document lists it
                        longest = PER_ASCII * max(map(len, _vocabulary(document, name)))
                    target += longest - len(f"{{{name}}}")
                elif parameter["in"] == "query" and schema.get("type") == "array":
                    arguments += [
                        len(name) + 1 + PER_ASCII * len(value) for value in schema["items"]["enum"]
                    ]
                elif parameter["in"] == "query":
                    arguments.append(len(name) + 1 + _longest_value(schema, per_character))
            query = sum(arguments) + len(arguments)  # each after "?" or "&"
            lines[(method, path)] = len(method) + 1 + target + query + VERSION
    return lines


def _vocabulary(document: dict[str, Any], name: str) -> list[str]:
    """The values of a path parameter the document enumerates elsewhere: an export's
    dataset, as the list of downloads filters by it."""
    assert name == "dataset", name
    for parameter in document["paths"]["/api/v1/exports/downloads"]["get"]["parameters"]:
        if _resolved(document, parameter)["name"] == "dataset":
            return list(_resolved(document, parameter)["schema"]["enum"])
    raise AssertionError("no dataset vocabulary")


def test_every_api_request_at_its_bounds_fits_the_request_line_gunicorn_reads(
    document: dict[str, Any],
) -> None:
    """The figure is gunicorn's largest (it cuts a larger one to 8,190); each
    operation's longest line fits, the longest of all being the audit-event search,
    which gunicorn's default of 4,094 bytes refused."""
    limit = SETTINGS["limit_request_line"]
    assert limit == 8190
    lines = longest_lines(document)
    assert {key: line for key, line in lines.items() if line > limit} == {}
    # In any script: every operation but the CSV filing's (its reason in ASCII).
    in_any_script = {key: line for key, line in lines.items() if key[1] not in REASON_PATHS}
    longest = max(in_any_script, key=in_any_script.__getitem__)
    assert longest == ("GET", "/api/v1/audit-events")
    assert 4094 < lines[longest] < max(lines.values()) <= limit
    # The header fields keep gunicorn's default: a Referer or a cookie is at most 4,096.
    assert SETTINGS["limit_request_field_size"] == 8190


def test_a_csv_amendment_reason_fits_in_ascii_and_no_line_holds_it_in_every_script(
    document: dict[str, Any],
) -> None:
    """The one bound the line cannot hold in any script: 2,000 characters of reason
    in the query, 24,000 bytes in 4-byte characters, beyond the most gunicorn reads;
    in ASCII, every character percent-encoded, it fits (docs/api.md says so)."""
    lines = longest_lines(document)
    for path in REASON_PATHS:
        in_ascii = lines[("POST", path)]
        assert in_ascii <= SETTINGS["limit_request_line"]
        assert in_ascii + (PER_CHARACTER - PER_ASCII) * REASON_MAX > 8190
