"""What every process holds once it has imported the app and built it (round 49):
the API's documentation shares its schemas rather than copying them at each
decorator, so importing the app and `create_app` stay under a bound. Round 50:
the PDF and holiday libraries are loaded by the first document drawn and the first
business day counted, not with the app."""

from __future__ import annotations

import json
import subprocess
import sys
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from licensing.api.base import APIDOC_ATTRIBUTE, PROBLEM, Blueprint, ProblemSchema

# What a fresh process holds, traced, once it has imported the app and built one:
# 104 MB before round 49, 84 MB after, 73 MB after round 50 (Python 3.11). The bound
# leaves 8 MB for the rounds to come; a round that passes it finds where its memory
# went (BENCHMARKS.md, "What every process holds at start (round 49)" and "(round
# 50)") rather than moving the bound.
TRACED_BOUND_MB = 81

_MAKE_THE_APP = """
database = tempfile.mkdtemp()
app = create_app(
    Config(
        environment="testing",
        database_url=f"sqlite:///{database}/unused.db",
        secret_key="s" * 40,
        audit_hmac_key="a" * 40,
    )
)
"""

# One fresh process answers the three checks below (round 66: each started its own,
# importing and building the app, some 7 s of a CI run): traced while it imports the
# app and builds one, then untraced while it serves the home page (which packages it
# holds then) and draws a document, counts a business day, draws a QR code and reads
# a JSON report (which it holds after).
_STARTED = (
    """
import compileall
import json
import sys
import tempfile
import tracemalloc

# The package's bytecode, written beside it before the trace starts, so the app's
# modules load as an installed package's do (round 66: compiled from source, as in a
# fresh checkout, the same modules held 1.4 MB more, and the test passed or failed
# by whether an earlier process had left `__pycache__` behind).
assert compileall.compile_dir("licensing", quiet=1)
tracemalloc.start()
from licensing.app import create_app
from licensing.config import Config

imported = tracemalloc.get_traced_memory()[0]
"""
    + _MAKE_THE_APP
    + """
built = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()


def loaded():
    return sorted({name.partition(".")[0] for name in sys.modules} & set(sys.argv[1:]))


assert app.test_client().get("/").status_code == 200
served = loaded()
# THEN
sys.stdout.write(json.dumps([imported, built, served, loaded()]))
"""
)


# Imported where a document is drawn (reportlab, and PIL through it), a business day
# is counted (holidays, and dateutil through it), an authenticator's QR code is drawn
# (segno) or a JSON report is read (ijson, round 65), not with the app: round 50 found
# the first three 10, 3.6 and 2 MB resident in every process, round 65 ijson 0.16 MB.
DRAWN_OR_COUNTED_ONLY = ("reportlab", "PIL", "holidays", "dateutil", "segno", "ijson")

# What loads them: a letter drawn, a business day counted, a QR code drawn, a JSON
# report read.
_THEN = """
from datetime import date
from licensing.calendar import add_business_days
from licensing.permissions import documents

documents.render_denial_letter(
    documents.DenialLetter(
        number="PR-2027-000008-D1",
        request_reference="PR-2027-000008",
        issued_on=date(2027, 2, 3),
        requester=documents.Requester("Lena Ortiz", "lena@example.test", "A College", "Faculty"),
        content_requested="Section guidelines.",
        reason="A commercial course.",
        reconsideration_until=None,
        status_url="http://example.test/status",
    )
)
assert add_business_days(date(2027, 7, 2), 1) == date(2027, 7, 6)  # past the 4th of July
from licensing.accounts import two_step

assert two_step.qr_svg("otpauth://totp/CPT?secret=JBSWY3DPEHPK3PXP").startswith("<svg ")
from licensing.royalties.rows import Upload, json_submission

assert json_submission(Upload.of_bytes(b'{"attest": true, "rows": []}')).problems == {}
"""


@dataclass(frozen=True)
class Started:
    imported_mb: float
    built_mb: float
    loaded_having_served: set[str]
    loaded_after_then: set[str]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Started:
    tmp_path = tmp_path_factory.mktemp("started")
    said = _run(_STARTED.replace("# THEN", _THEN), tmp_path, *DRAWN_OR_COUNTED_ONLY)
    imported, built, served, after = json.loads(said)
    return Started(imported / 1e6, built / 1e6, set(served), set(after))


def test_a_fresh_process_holds_less_than_the_bound_once_it_has_imported_and_built_the_app(
    started: Started,
) -> None:
    assert started.imported_mb < started.built_mb < TRACED_BOUND_MB, started


def test_a_process_that_has_built_the_app_and_served_a_page_holds_no_pdf_or_holiday_library(
    started: Started,
) -> None:
    assert started.loaded_having_served == set()


def test_the_first_document_drawn_business_day_counted_and_qr_code_drawn_load_them(
    started: Started,
) -> None:
    # The check above can fail: the same process loads them once it draws a letter,
    # counts a business day, draws a QR code and reads a JSON report.
    assert started.loaded_after_then == set(DRAWN_OR_COUNTED_ONLY)


def _run(script: str, tmp_path: Any, *arguments: str) -> str:
    """What `script` writes, run in a fresh interpreter on this tree."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_a_copy_of_an_api_schema_is_the_schema_itself() -> None:
    documentation = {"response": {"responses": {404: [{"schema": PROBLEM}]}}}
    copied = deepcopy(documentation)

    assert copied is not documentation
    assert copied["response"]["responses"][404][0]["schema"] is PROBLEM
    assert deepcopy(ProblemSchema(many=True)).many is True


def test_every_documented_problem_answer_of_every_route_names_the_one_problem_schema() -> None:
    import licensing.app  # noqa: F401 - every API module, its routes decorated

    problems = []
    for blueprint in _api_blueprints():
        for endpoint_docs in blueprint._docs.values():
            for method, doc in endpoint_docs.items():
                problems += [] if method == "parameters" else _problem_schemas(doc)
        for view in _views(blueprint):
            problems += _problem_schemas(getattr(view, APIDOC_ATTRIBUTE))
    assert len(problems) > 1000
    assert {id(schema) for schema in problems} == {id(PROBLEM)}


def _problem_schemas(doc: dict[str, Any]) -> list[Any]:
    """The schemas of the problem answers a route's documentation names."""
    answers = doc.get("response", {}).get("responses", {}).values()
    return [
        answer["schema"]
        for listed in answers
        for answer in listed
        if answer.get("schema") is ProblemSchema or isinstance(answer.get("schema"), ProblemSchema)
    ]


def _api_blueprints() -> list[Any]:
    found = []
    for name, module in list(sys.modules.items()):
        if name.startswith("licensing.api."):
            found += [v for v in vars(module).values() if isinstance(v, Blueprint)]
    return list({id(b): b for b in found}.values())


def _views(blueprint: Any) -> list[Any]:
    """The views a blueprint registers (its deferred `add_url_rule` calls' views)."""
    views = []
    for deferred in blueprint.deferred_functions:
        cells = getattr(deferred, "__closure__", None) or ()
        views += [c.cell_contents for c in cells if callable(c.cell_contents)]
    return [v for v in views if hasattr(v, APIDOC_ATTRIBUTE)]
