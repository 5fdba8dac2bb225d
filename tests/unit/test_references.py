"""Every typed reference people read is written by one formatter of its kind in
`licensing.references`, a module that imports nothing of the service (billing
wrote a royalty report's `RR-` by hand rather than import royalties)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from licensing import references
from licensing.agreements.models import Application
from licensing.billing import numbering
from licensing.royalties.models import RoyaltyReport

ROOT = Path(__file__).resolve().parents[2]


def test_each_kind_of_reference_reads_as_people_know_it() -> None:
    assert references.APPLICATION(42) == "APP-000042"
    assert references.ROYALTY_REPORT(7) == "RR-000007"
    assert references.PERMISSION_REQUEST(2027, 42) == "PR-2027-000042"
    assert references.AGREEMENT(2027, 1) == "CPT-2027-000001"
    assert references.INVOICE(2027, 1) == "INV-2027-000001"
    assert references.CREDIT_NOTE(2027, 42) == "CN-2027-000042"
    request = references.PERMISSION_REQUEST(2027, 42)
    assert references.permission_letter(request, granted=True, count=1) == "PR-2027-000042-G1"
    assert references.permission_letter(request, granted=False, count=2) == "PR-2027-000042-D2"


def test_records_and_number_series_use_their_kinds_formatter() -> None:
    assert Application.reference_of(42) == references.APPLICATION(42)
    assert RoyaltyReport.reference_of(5) == references.ROYALTY_REPORT(5)
    assert numbering.INVOICE_SERIES is references.INVOICE
    assert numbering.CREDIT_NOTE_SERIES is references.CREDIT_NOTE


def test_the_formatters_import_nothing_of_the_service_or_any_library() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; before = set(sys.modules); import licensing.references; "
            "print(' '.join(sorted(name for name in set(sys.modules) - before "
            "if name.split('.')[0] not in sys.stdlib_module_names)))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert loaded == ["licensing", "licensing.references"]
