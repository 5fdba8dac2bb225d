"""docs/exports.md lists exactly the columns each dataset writes, with its version;
and what each dataset publishes (GET /api/v1/exports, the page, file headers) stays
as recorded in dataset_catalog.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from licensing.exports import base

REFERENCE = Path(__file__).parents[3] / "docs" / "exports.md"
# Every dataset's title, description, columns (name, type, meaning in order),
# filters and order as published. Within a schema version columns are only
# added at the end, so a change here other than that needs a new version.
CATALOG = Path(__file__).with_name("dataset_catalog.json")
HEADING = re.compile(r"^### `(?P<name>\w+)`: .* \(schema_version (?P<version>\d+)\)$")
COLUMN = re.compile(r"^\| `(?P<column>\w+)` \| (?P<kind>\w+) \|")


def documented() -> dict[str, tuple[int, list[tuple[str, str]]]]:
    found: dict[str, tuple[int, list[tuple[str, str]]]] = {}
    current: str | None = None
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading["name"]
            found[current] = (int(heading["version"]), [])
        elif current and (column := COLUMN.match(line)):
            found[current][1].append((column["column"], column["kind"]))
    return found


def test_the_reference_documents_every_dataset_column_and_schema_version() -> None:
    expected = {
        name: (dataset.schema_version, [(c.name, c.kind) for c in dataset.columns])
        for name, dataset in base.all_datasets().items()
    }
    assert documented() == expected


def published(dataset: base.Dataset) -> dict[str, Any]:
    return {
        "title": dataset.title,
        "description": dataset.description,
        "schema_version": dataset.schema_version,
        "columns": [[c.name, c.kind, c.description] for c in dataset.columns],
        "date_bases": list(dataset.date_bases),
        "filters": sorted(dataset.filters),
        "states": list(dataset.states),
        "currency_column": dataset.currency_column,
        "order": dataset.order,
    }


def test_every_dataset_publishes_the_columns_meanings_and_filters_recorded_for_it() -> None:
    recorded = json.loads(CATALOG.read_text(encoding="utf-8"))
    current = {name: published(dataset) for name, dataset in base.all_datasets().items()}
    assert list(current) == list(recorded)  # the order lists and the reference use
    for name, entry in recorded.items():
        assert current[name] == entry, name
