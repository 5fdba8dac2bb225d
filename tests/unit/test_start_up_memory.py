"""What every process holds once it has imported the app and built it (round 49):
the API's documentation shares its schemas rather than copying them at each
decorator, so importing the app and `create_app` stay under a bound. Round 50:
the PDF and holiday libraries are loaded by the first document drawn and the first
business day counted, not with the app."""

from __future__ import annotations

import subprocess
import sys
from copy import deepcopy
from pathlib import Path
from typing import Any

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

_BUILT = (
    """
import sys
import tempfile
import tracemalloc

tracemalloc.start()
from licensing.app import create_app
from licensing.config import Config

imported = tracemalloc.get_traced_memory()[0]
"""
    + _MAKE_THE_APP
    + """
built = tracemalloc.get_traced_memory()[0]
sys.stdout.write(f"{imported} {built}")
"""
)


def test_a_fresh_process_holds_less_than_the_bound_once_it_has_imported_and_built_the_app(
    tmp_path: Any,
) -> None:
    imported, built = (int(n) / 1e6 for n in _run(_BUILT, tmp_path).split())
    assert imported < built < TRACED_BOUND_MB, (imported, built)


# Imported where a document is drawn (reportlab, and PIL through it), a business day
# is counted (holidays, and dateutil through it) or an authenticator's QR code is drawn
# (segno), not with the app: round 50 found them 10, 3.6 and 2 MB resident in every
# process.
DRAWN_OR_COUNTED_ONLY = ("reportlab", "PIL", "holidays", "dateutil", "segno")

_LOADED = (
    """
import sys
import tempfile

from licensing.app import create_app
from licensing.config import Config
"""
    + _MAKE_THE_APP
    + """
assert app.test_client().get("/").status_code == 200
# THEN
packages = {name.partition(".")[0] for name in sys.modules}
sys.stdout.write(" ".join(sorted(packages & set(sys.argv[1:]))))
"""
)


def _packages_loaded(tmp_path: Any, then: str = "") -> set[str]:
    """Which of `DRAWN_OR_COUNTED_ONLY` a fresh process has loaded once it has built
    the app, served its home page and run `then`."""
    script = _LOADED.replace("# THEN", then)
    return set(_run(script, tmp_path, *DRAWN_OR_COUNTED_ONLY).split())


def test_a_process_that_has_built_the_app_and_served_a_page_holds_no_pdf_or_holiday_library(
    tmp_path: Any,
) -> None:
    assert _packages_loaded(tmp_path) == set()


def test_the_first_document_drawn_business_day_counted_and_qr_code_drawn_load_them(
    tmp_path: Any,
) -> None:
    # The check above can fail: the same process loads them once it draws a letter,
    # counts a business day and draws a QR code.
    then = """
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
"""
    assert _packages_loaded(tmp_path, then) == set(DRAWN_OR_COUNTED_ONLY)


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
