"""Agreement and invoice PDFs, each against a minimal reportlab document of its size.

An agreement of three licensed uses is made through the real services (priced,
submitted, approved automatically, accepted, so its up-front invoice is issued)
on a fresh SQLite database. Then, in the same run, each document is rendered
`--repeat` times by the service's own renderers:

- agreement: `render_agreement_pdf` of the document `issuing.build_document`
  gathers (clauses from the templates, the working of each fee);
- new names: the same agreement with the licensee's and the products' names
  numbered afresh for every render (built before the timing), as real traffic
  renders each agreement once: what the per-process caches of laid-out text
  give when no two documents share those paragraphs;
- invoice: `billing.pdfs.invoice_pdf`, as the pages, the API and emails call it,
  of the invoice loaded once as they load it for its PDF (`queries.invoice_for_pdf`:
  its lines and the first day it bills in that statement, so the render reads
  nothing); printed beside it, the invoice read afresh for every document (a
  new request's session: that one statement, then the render), with its floor;

and its floor as often: a reportlab document with the same number of pages and
tables (the same rows and columns, one short string a cell), the built-in
Helvetica and reportlab's sample styles, no page furniture, invariant as ours, with
reportlab's default page compression (ASCII85 over zlib's level 6, where ours is
zlib's level 1 alone: on the floor's near-empty pages 1% of its time). The renderers
embed and subset the DejaVu Sans fonts (names beyond Latin-1, such as Łódź,
and the © and ® of the notices) and number every page "Page N of M"; the floor
does neither, which is what the ratio prices.

For reference, in the same run, the same text in plain reportlab: every
paragraph of our document as a paragraph of the sample style, every table with
the same text as one string a cell, built-in Helvetica, no furniture; what laying
out this much text costs with reportlab before any of our choices.
Prints the median time per document, the floor's and the ratio (goal <= 1.5x),
and the same-text reference; asserts nothing. The app is frozen out of the
garbage collector once built, as the service's workers freeze theirs, and each
render (ours, the floor, the reference) starts with the collector's young
generations empty, so each pays for the collections its own allocations set off.

With `--bytecodes`, each row also gives the Python bytecodes executed per
document and per floor (`sys.settrace`'s opcode events over five renders): a
count that a loaded machine does not change, to compare two trees by.

With `--instructions N`, nothing is timed: the script runs itself under
valgrind's callgrind and prints the instructions per document of each row and
of its floor (C work included, a count no load changes), each case rendered 15
times unmeasured and then N times inside `operator.call`, the one function
callgrind collects in (`--toggle-collect=_operator_call`), so the set-up, the
warm-up and the script's own steps are not counted (the garbage collections a
render sets off are). `--cache-sim` adds callgrind's simulated first-level cache
misses per document, instruction and data (the machine's own caches are not
read). `--cases` counts only the cases named (say `"new names,agreement floor"`:
a bisection's row and its floor, in about half the time), and `--keep-dumps DIR`
keeps callgrind's dump of each case there (`callgrind.out.<case>`, for
`callgrind_annotate`: which functions the instructions are in).

    .venv/bin/python bench/pdfs.py [--repeat 20] [--bytecodes]
    .venv/bin/python bench/pdfs.py --instructions 20 [--cache-sim]   # a few minutes
    .venv/bin/python bench/pdfs.py --instructions 10 --cases "new names,agreement floor" \
        --keep-dumps /tmp/dumps
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import io
import logging
import operator
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from harness import bench_app  # first: the repository on the path

# Three licensed uses: two with a fixed fee, so the up-front invoice has lines.
USES: tuple[tuple[str, str, str, dict[str, int]], ...] = (
    ("Bench Scrubber", "distribution", "saas", {"end_users": 2500}),
    ("Bench Coder Assist", "development", "software", {}),
    ("Bench Claims Desk", "internal_use", "software", {"users": 40}),
)


def _use(product: str, use: str, product_type: str, quantity: dict[str, int]) -> dict[str, Any]:
    return {
        "product_name": product,
        "description": f"{product}: claims scrubbing for clinics and billing offices",
        "use": use,
        "product_type": product_type,
        "user_type": "provider",
        "delivery": "hosted",
        "territories": "United States",
        "languages": ["en"],
        "quantity": quantity,
    }


def issue(app: Any) -> tuple[int, int]:
    """(agreement id, invoice id): an agreement issued and accepted, its invoice issued."""
    from sqlalchemy import select

    from licensing import db
    from licensing.accounts import services as accounts
    from licensing.actors import Actor
    from licensing.agreements import services as agreements
    from licensing.agreements.models import Agreement
    from licensing.billing.models import Invoice
    from licensing.ratecards import cli as ratecards_cli
    from tests.support import factories
    from tests.support.settings import issuing

    moment = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    with app.app_context():
        ratecards_cli.load_samples()
        organization = factories.make_organization(db.session())
        vendor = factories.make_vendor(db.session(), organization)
        db.session().commit()
        principal = accounts.principal_for(vendor)
        draft = agreements.ApplicationDraft.from_fields(
            {
                "term_start": date(2027, 1, 1),
                "term_end": date(2027, 12, 31),
                "uses": [_use(*use) for use in USES],
            }
        )
        application = agreements.create_draft(Actor.of(principal), draft, now=moment)
        agreements.submit(
            application.id, Actor.of(principal), policy=issuing(), attest=True, now=moment
        )
        session = db.session()
        agreement = session.scalars(
            select(Agreement).where(Agreement.application_id == application.id)
        ).one()
        agreements.accept(
            agreement.id,
            Actor.of(principal),
            agreements.AcceptanceInput(
                "Bench Signer", "CEO", True, agreement.pdf_sha256, "127.0.0.1", "bench"
            ),
            now=moment,
        )
        invoice = session.scalars(
            select(Invoice).where(Invoice.source_type == "agreement").order_by(Invoice.id)
        ).first()
        assert invoice is not None, "accepting the agreement issued no invoice"
        return agreement.id, invoice.id


def _shape(render: Callable[[], bytes]) -> tuple[int, list[tuple[int, int]], list[Any]]:
    """The pages of the rendered document, the (rows, columns) of each table in
    its story and the story (caught on its way to `licensing.pdf.build`)."""
    from pypdf import PdfReader
    from reportlab.platypus import Table

    from licensing import pdf

    stories: list[list[Any]] = []
    original = pdf.build

    def catching(story: Any, *args: Any, **kwargs: Any) -> bytes:
        stories.append(list(story))
        return original(story, *args, **kwargs)

    pdf.build = catching
    try:
        content = render()
    finally:
        pdf.build = original
    tables: list[tuple[int, int]] = []

    def walk(flowable: Any) -> None:
        if isinstance(flowable, Table):
            # reportlab keeps the cells in an attribute its stubs do not declare.
            rows = flowable._cellvalues  # type: ignore[attr-defined]
            tables.append((len(rows), len(rows[0]) if rows else 0))
        for inner in getattr(flowable, "_content", None) or []:  # KeepTogether
            walk(inner)

    for flowable in stories[0]:
        walk(flowable)
    return len(PdfReader(io.BytesIO(content)).pages), tables, stories[0]


def floor_document(pages: int, tables: list[tuple[int, int]]) -> bytes:
    """A minimal reportlab document: `pages` pages holding tables of these shapes."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table

    styles = getSampleStyleSheet()
    story: list[Any] = []
    for page in range(pages):
        if page:
            story.append(PageBreak())
        story.append(Paragraph(f"Page {page + 1}", styles["Heading2"]))
        for index, (rows, columns) in enumerate(tables):
            if index * pages // max(len(tables), 1) == page:
                story.append(Table([["cell"] * columns for _ in range(rows)]))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=LETTER, invariant=True).build(story)
    return buffer.getvalue()


def _plain_text(cell: Any) -> str:
    """The words of a table cell: a string, a paragraph, or a list of them."""
    from reportlab.platypus import Paragraph

    if isinstance(cell, str):
        return cell
    if isinstance(cell, Paragraph):
        return str(cell.text)
    if isinstance(cell, list | tuple):
        return " ".join(_plain_text(inner) for inner in cell)
    return ""


def same_text_document(story: list[Any]) -> bytes:
    """Our story's text in plain reportlab: sample styles, built-in Helvetica, one
    string a table cell, no furniture (the reference, not the floor)."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Table

    body = getSampleStyleSheet()["BodyText"]

    def plain(flowable: Any) -> list[Any]:
        if isinstance(flowable, Paragraph):
            # Plain text (`pdf.para`) is kept as written, not as markup: escape it.
            written = getattr(flowable, "_plain_text", False)
            return [Paragraph(escape(flowable.text) if written else flowable.text, body)]
        if isinstance(flowable, Table):
            rows = flowable._cellvalues  # type: ignore[attr-defined]
            return [Table([[_plain_text(cell) for cell in row] for row in rows])]
        if isinstance(flowable, KeepTogether):
            return [item for inner in flowable._content for item in plain(inner)]  # type: ignore[attr-defined]
        return [flowable]  # spacers and page breaks

    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=LETTER, invariant=True)
    document.build([item for flowable in story for item in plain(flowable)])
    return buffer.getvalue()


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """`value` with every name in `names` replaced wherever a text carries it."""
    if isinstance(value, str):
        for old, new in names.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, tuple):
        return tuple(_renamed(each, names) for each in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value,
            **{
                each.name: _renamed(getattr(value, each.name), names)
                for each in dataclasses.fields(value)
            },
        )
    return value


def fresh_documents(document: Any, count: int) -> Iterator[Any]:
    """`count` copies of `document`, each naming a licensee and products no other names."""
    names = [document.licensee.name, *(use.product for use in document.uses)]
    for number in range(count):
        yield _renamed(document, {name: f"{name} {number:05d}" for name in names})


def paired_medians(makers: list[Callable[[], bytes]], repeat: int) -> list[float]:
    """Median seconds of each, rendered in turn (a busy machine slows all alike).

    The garbage collector stays on, as in the service, but each render starts
    with its young generations empty (collected untimed just before), so that
    each pays for the collections its own allocations set off and none for the
    garbage the render before it left: in turn after the same-text reference
    (20 ms of plain reportlab), our render paid for collecting the reference's
    garbage, and the floor, run after ours, never paid for any. Neither pays for
    collecting the reference cycles it leaves (some 150 objects a document,
    alike for both), which the next turn's untimed collection finds."""
    for make in makers:  # warm: imports, font and style caches
        make()
    times: list[list[float]] = [[] for _ in makers]
    for _ in range(repeat):
        for index, make in enumerate(makers):
            gc.collect(1)
            started = time.perf_counter()
            make()
            times[index].append(time.perf_counter() - started)
    return [statistics.median(each) for each in times]


def bytecodes(make: Callable[[], bytes], count: int = 5) -> float:
    """Python bytecodes executed per call of `make` (after it ran once): a count no
    load on the machine changes, for comparing two trees where CPU time wanders.
    It weighs a C call (zlib, a dictionary copy) as one step, so it tells which
    way and about how far, not the time."""
    make()
    executed = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal executed
        frame.f_trace_opcodes = True
        if event == "opcode":
            executed += 1
        return trace

    sys.settrace(trace)
    try:
        for _ in range(count):
            make()
    finally:
        sys.settrace(None)
    return executed / count


# The cases `--instructions` counts, in this order.
CASES = ("agreement", "new names", "invoice", "agreement floor", "invoice floor")

# Renders each case this often before callgrind counts it (imports, the
# process's tables, valgrind's translation of the code).
WARM_UP = 15


def _wait_for(path: Path, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until `path` exists (or the counted process has ended: an error)."""
    while not path.exists():
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the counted process ended ({process.returncode}) before {path.name}")
        time.sleep(0.05)


def _counted(cases: dict[str, Callable[[], bytes]], count: int, handshake: Path) -> None:
    """The counted process's side: each case warmed up, then `count` renders inside
    `operator.call` (the one function callgrind collects in); the parent dumps the
    counts between cases."""
    _wait_for(handshake / "instrumented")
    for index, make in enumerate(cases.values()):
        for _ in range(WARM_UP):
            make()
        for _ in range(count):
            operator.call(make)
        (handshake / f"done-{index}").touch()
        _wait_for(handshake / f"dumped-{index}")


def count_instructions(
    names: list[str], count: int, cache_sim: bool, keep_dumps: Path | None = None
) -> list[dict[str, int]]:
    """Events per document (callgrind's: instructions, and with `cache_sim` the
    simulated cache misses) of each case, in `names`' order, from this script
    rerun under callgrind with `--count-in` (counting those cases alone); each
    case's dump copied into `keep_dumps` when given."""
    handshake = Path(tempfile.mkdtemp(prefix="bench-pdfs-callgrind-"))
    command = [
        *("valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no"),
        "--toggle-collect=_operator_call",
        f"--cache-sim={'yes' if cache_sim else 'no'}",
        f"--callgrind-out-file={handshake}/callgrind.%p",
        *(sys.executable, str(Path(__file__).resolve())),
        *("--count-in", str(handshake), "--instructions", str(count)),
        *("--cases", ",".join(names)),
    ]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)

    def control(*arguments: str) -> None:
        subprocess.run(
            ["callgrind_control", *arguments, str(process.pid)], check=True, capture_output=True
        )

    counts: list[dict[str, int]] = []
    try:
        _wait_for(handshake / "ready", process)
        control("-i", "on")
        (handshake / "instrumented").touch()
        for index in range(len(names)):
            _wait_for(handshake / f"done-{index}", process)
            before = set(handshake.glob("callgrind.*"))
            control("-d")
            totals = None
            while totals is None:  # the dump may still be being written
                time.sleep(0.2)
                for dump in set(handshake.glob("callgrind.*")) - before:
                    text = dump.read_text()
                    events = re.search(r"^events: (.+)$", text, re.MULTILINE)
                    summary = re.search(r"^(?:summary|totals): (.+)$", text, re.MULTILINE)
                    if events and summary:
                        kinds, values = events.group(1).split(), summary.group(1).split()
                        totals = dict(zip(kinds, map(int, values), strict=True))
                        if keep_dumps is not None:
                            keep_dumps.mkdir(parents=True, exist_ok=True)
                            name = names[index].replace(" ", "-")
                            shutil.copyfile(dump, keep_dumps / f"callgrind.out.{name}")
            counts.append({event: value // count for event, value in totals.items()})
            (handshake / f"dumped-{index}").touch()
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(handshake, ignore_errors=True)
    return counts


# callgrind's simulated first-level cache misses (`--cache-sim=yes`): instruction
# fetches, and data reads and writes. Its last level is sized from the host's
# (here hundreds of MB), which a document's few MB never miss: not printed.
MISSES = {
    "I1 misses": ("I1mr",),
    "D1 misses": ("D1mr", "D1mw"),
}


def report_instructions(counts: dict[str, dict[str, int]], floors: dict[str, str]) -> None:
    print("PDFs: callgrind's events per document (load-independent), each against its floor")
    for name, floor in floors.items():
        if name not in counts:
            continue
        if floor not in counts:
            print(f"  {name:<10} {counts[name]['Ir'] / 1e6:6.2f}M instructions")
            continue
        ours, least = counts[name], counts[floor]
        print(
            f"  {name:<10} {ours['Ir'] / 1e6:6.2f}M instructions  floor {least['Ir'] / 1e6:6.2f}M"
            f"  ratio {ours['Ir'] / least['Ir']:5.3f}x"
        )
        for label, events in MISSES.items():
            if all(event in ours for event in events):
                mine = sum(ours[event] for event in events)
                theirs = sum(least[event] for event in events)
                print(
                    f"  {'':<10} {label} {mine:>10,}  floor {theirs:>10,}"
                    f"  ratio {mine / max(theirs, 1):5.2f}x"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="renders of each document (20)")
    parser.add_argument(
        "--bytecodes",
        action="store_true",
        help="also print the Python bytecodes executed per document and per floor",
    )
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="count instructions per document under callgrind over N renders instead of timing",
    )
    parser.add_argument(
        "--cache-sim", action="store_true", help="with --instructions: simulated cache misses too"
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help="with --instructions: the cases counted, comma-separated (default: all five)",
    )
    parser.add_argument(
        "--keep-dumps",
        type=Path,
        metavar="DIR",
        help="with --instructions: keep each case's callgrind dump in DIR",
    )
    parser.add_argument("--count-in", type=Path, help=argparse.SUPPRESS)  # the counted process
    args = parser.parse_args()
    chosen = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(CASES))
    if unknown or not chosen:
        parser.error(f"--cases: each of {', '.join(CASES)} (not {', '.join(unknown)})")
    if args.instructions and args.count_in is None:
        names = [name for name in CASES if name in chosen]
        counts = count_instructions(names, args.instructions, args.cache_sim, args.keep_dumps)
        report_instructions(
            dict(zip(names, counts, strict=True)),
            {
                "agreement": "agreement floor",
                "new names": "agreement floor",
                "invoice": "invoice floor",
            },
        )
        return
    from pypdf import PdfReader

    from licensing import db
    from licensing.actors import Actor
    from licensing.agreements import issuing
    from licensing.agreements.documents import render_agreement_pdf
    from licensing.agreements.models import Agreement
    from licensing.app import freeze_start_up_objects
    from licensing.billing import pdfs, queries
    from licensing.pricing.describe import LONG_PERIOD_DAYS

    logging.getLogger("alembic").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        app = bench_app(url)
        freeze_start_up_objects()  # as the service's workers do once their app is built
        agreement_id, invoice_id = issue(app)
        with app.app_context(), app.test_request_context():
            session = db.session()
            agreement = session.get(Agreement, agreement_id)
            invoice = queries.invoice_for_pdf(session, invoice_id, Actor.SYSTEM)
            assert agreement is not None

            def read_and_render() -> bytes:
                with db.database().sessionmaker() as fresh:  # a new request's session
                    read = queries.invoice_for_pdf(fresh, invoice_id, Actor.SYSTEM)
                    return pdfs.invoice_pdf(fresh, read)

            document = issuing.build_document(
                session,
                number=agreement.number,
                issued_on=date(2026, 11, 2),
                application=agreement.application,
                version=agreement.quote,
                payment_terms_days=agreement.payment_terms_days,
                late_fee_percent=agreement.late_fee_monthly_percent,
                renewal_of=None,
                long_card_days=LONG_PERIOD_DAYS,
            )
            renders = (args.instructions + WARM_UP + 2) if args.count_in else args.repeat + 8
            fresh = iter(list(fresh_documents(document, renders + 6 * args.bytecodes)))
            cases: dict[str, Callable[[], bytes]] = {
                "agreement": lambda: render_agreement_pdf(document),
                "new names": lambda: render_agreement_pdf(next(fresh)),
                "invoice": lambda: pdfs.invoice_pdf(session, invoice),
                "read+inv.": read_and_render,
            }
            if args.count_in is not None:
                pages, tables, _ = _shape(cases["agreement"])
                invoice_pages, invoice_tables, _ = _shape(cases["invoice"])
                every: dict[str, Callable[[], bytes]] = {
                    "agreement": cases["agreement"],
                    "new names": cases["new names"],
                    "invoice": cases["invoice"],
                    "agreement floor": functools.partial(floor_document, pages, tables),
                    "invoice floor": functools.partial(
                        floor_document, invoice_pages, invoice_tables
                    ),
                }
                counted = {name: every[name] for name in CASES if name in chosen}
                (args.count_in / "ready").touch()
                _counted(counted, args.instructions, args.count_in)
                return
            print(f"PDFs: median of {args.repeat} renders each, floor in the same run")
            for name, render in cases.items():
                pages, tables, story = _shape(render)
                same_text = functools.partial(same_text_document, story)
                figure, floor, reference = paired_medians(
                    [render, functools.partial(floor_document, pages, tables), same_text],
                    args.repeat,
                )
                reference_pages = len(PdfReader(io.BytesIO(same_text())).pages)
                print(
                    f"  {name:<10} {figure * 1000:7.1f} ms  ({pages} pages, {len(tables)} "
                    f"tables, {len(render()) / 1024:.0f} KB)  floor, minimal reportlab: "
                    f"{floor * 1000:6.1f} ms  ratio {figure / floor:4.2f}x\n"
                    f"  {'':<10} reference, the same text in plain reportlab: "
                    f"{reference * 1000:6.1f} ms ({reference_pages} pages)  "
                    f"ratio {figure / reference:4.1f}x"
                )
                if args.bytecodes:
                    ours, least = (
                        bytecodes(render),
                        bytecodes(functools.partial(floor_document, pages, tables)),
                    )
                    print(
                        f"  {'':<10} bytecodes per document: {ours:,.0f} against the floor's "
                        f"{least:,.0f}  ratio {ours / least:5.3f}x"
                    )


if __name__ == "__main__":
    main()
