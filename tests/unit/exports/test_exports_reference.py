"""docs/exports.md lists exactly the columns each dataset writes, with its version."""

from __future__ import annotations

import re
from pathlib import Path

from licensing.exports import base

REFERENCE = Path(__file__).parents[3] / "docs" / "exports.md"
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
