"""Filing (and previewing) a period's report, and amending it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.audit import services as audit
from licensing.billing import queries as billing_queries
from licensing.calendar import office_date, office_day_start
from licensing.db import Money, utcnow
from licensing.errors import Conflict, FileFirst, InvalidInput
from licensing.limits import record_id
from licensing.links import links
from licensing.mail import services as mail
from licensing.money import beyond_largest, exceeds_largest
from licensing.printable import composed
from licensing.records import attributes
from licensing.words import at_most_characters

from ..computation import ReportableLine, too_large_to_invoice
from ..models import (
    LINE_REVENUE_MAX,
    LINE_ROYALTY_COLUMNS,
    REASON_MAX,
    ReportingPeriod,
    RoyaltyReport,
    RoyaltyReportLine,
    RoyaltyReportRow,
)
from ..periods import Period
from ..rows import (
    Problems,
    Row,
    RowKey,
    RowKeysRepeated,
    Submission,
    check_row,
    repeated_key,
    repeated_key_message,
)
from ..states import (
    CLEAR,
    FLAGGED,
    REPORT,
    SUBMITTED,
)
from .anomalies import _anomalies
from .obligations import (
    REPORTING_STATES,
    Filing,
    Obligations,
    _agreement,
    current_reports,
    obligations,
)
from .reading import amended_by
from .settlement import _Settlement, lock_creditable
from .steps import AMEND, amendment_refusal, not_reporting, refused_report_step
from .usage import _charged_to_date, _last_reported, _usage

# Rows stored per INSERT.
BATCH = 5000


class _Preview(Exception):
    """Carries a preview's result out of its transaction, which then rolls back."""

    def __init__(self, filing: Filing) -> None:
        self.filing = filing


class _Refused(Exception):
    """A submission that cannot be filed as sent (its attestation, the amendment's id
    or reason, its body's shape), carried out of its transaction with what checking
    its rows needs: they are then checked, neither stored nor priced, with no lock
    held (round 58: such a report was stored and priced in a transaction rolled back,
    a whole filing's work to refuse it), and every problem told at once."""

    def __init__(self, obligation: Obligations, problems: Mapping[str, list[str]]) -> None:
        self.lines = {line.number: line for line in obligation.lines}
        self.problems = problems

    def answer(self, submission: Submission) -> InvalidInput:
        """The submission's problems with its rows' when they can be read."""
        if submission.rows_readable:
            revenue = {
                number: Decimal(0) for number, line in self.lines.items() if line.takes_revenue
            }
            try:
                _check_rows(submission, self.lines, Problems(), revenue, None)
            except InvalidInput as found:
                return _together(self.problems, found)
        return InvalidInput(REPORT_PROBLEMS, self.problems)


def preview(
    agreement_id: int,
    period_start: date,
    submission: Submission,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> Filing:
    """The computation of a report, storing nothing."""
    try:
        with db.transaction() as session:
            filing = _file(session, agreement_id, period_start, submission, actor, now, True)
            raise _Preview(filing)
    except _Preview as done:
        return done.filing
    except _Refused as refused:
        raise refused.answer(submission) from None


def submit(
    agreement_id: int,
    period_start: date,
    submission: Submission,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> Filing:
    """File (or, with `amends`, amend) a period's report; the royalty follows at once."""
    try:
        with db.transaction() as session:
            return _file(session, agreement_id, period_start, submission, actor, now, False)
    except _Refused as refused:
        raise refused.answer(submission) from None


def _file(
    session: Session,
    agreement_id: int,
    period_start: date,
    submission: Submission,
    actor: Actor,
    now: datetime | None,
    previewing: bool,
) -> Filing:
    moment = now or utcnow()
    if actor.is_staff:
        raise Conflict("Reports are filed by the licensee's users, who attest to them.")
    actor.require_licensing_work()
    agreement = _agreement(session, agreement_id, actor, lock=True)
    if not previewing:
        lock_creditable(session, agreement.id)
    obligation = obligations(session, agreement)
    if not obligation.lines:
        raise Conflict(
            f"Agreement {agreement.number} has no usage-based lines, so it has no royalty reports."
        )
    period = obligation.period(period_start)
    problems = _submission_problems(submission, previewing)
    if problems and (not submission.rows_readable or "amends" in problems):
        # Which report is amended cannot be told (so neither can the period's
        # check), or the rows cannot be read: the submission's problems, with its
        # rows' if they can be read.
        raise _Refused(obligation, problems)
    reports = current_reports(session, agreement.id)
    amended = _check_period(session, obligation, period, reports, submission, moment)
    if problems:
        # The period can take the report (its 409 comes first), the submission cannot
        # be filed as sent: its rows are checked, not stored or priced (`_Refused`).
        raise _Refused(obligation, problems)
    report, filing, revenue = _compute(
        session, obligation, period, reports, amended, submission, actor, moment
    )
    if previewing:
        return filing
    _store_lines(session, report, filing, revenue)
    report.total_due = filing.total_due
    report.flags_json = json.dumps(filing.flags)
    report.review_state = FLAGGED if filing.flags else CLEAR
    filing.report = report
    # The organization before billing's numbers (round 58; the lock order,
    # `licensing.royalties.services`): the filing restores its standing once invoiced
    # (`_after_filing`), and an overdue run or an acceptance locks the organization
    # and then draws a number. Until round 58 the audit log's head, which every step
    # locked at its first event, kept them in turns; since it is locked at commit, the
    # filing drew its invoice's number, then waited for the organization the overdue
    # run held while the run waited for the number: "deadlock detected"
    # (`tests/integration/royalties/test_filing_lock_order.py`).
    accounts.locked_organization(session, agreement.organization_id)
    _Settlement(session, obligation, report, actor, moment).settle(filing)
    audit.record(
        session,
        action="royalty_report.submitted" if amended is None else "royalty_report.amended",
        entity_type="royalty_report",
        entity_id=report.id,
        before=None if amended is None else {"current_report": amended.id},
        after={
            **report.snapshot(),
            "agreement": agreement.number,
            "invoice": filing.invoice_number,
            "credit_notes": filing.credit_notes,
            "flags": len(filing.flags),
        },
        note=report.amendment_reason,
        actor=actor.name,
        actor_user_id=actor.user_id,
    )
    _after_filing(session, agreement, report, filing, moment, actor)
    return filing


def _compute(
    session: Session,
    obligation: Obligations,
    period: Period,
    reports: Mapping[date, RoyaltyReport],
    amended: RoyaltyReport | None,
    submission: Submission,
    actor: Actor,
    moment: datetime,
) -> tuple[RoyaltyReport, Filing, dict[int, Decimal]]:
    """The report stored with its rows, and its royalty computed, in the caller's
    transaction (a preview's rolls back); raises `InvalidInput` with every problem
    of the rows."""
    agreement = obligation.agreement
    last_before = _last_reported(reports)
    charged_before = _charged_to_date(session, obligation, last_before)
    if amended is not None:
        REPORT.apply(
            session, amended, "supersede", actor=actor, note=_reason(submission.reason), at=moment
        )
    report = RoyaltyReport(
        agreement_id=agreement.id,
        organization_id=agreement.organization_id,
        period_index=period.index,
        period_start=period.start,
        period_end=period.end,
        state=SUBMITTED,
        review_state=CLEAR,
        amends_id=amended.id if amended else None,
        amendment_reason=_reason(submission.reason) if amended else None,
        source=submission.source,
        file_sha256=submission.upload.sha256,
        currency=agreement.currency,
        total_due=Decimal(0),
        submitted_by_id=actor.user_id,
        submitted_by=actor.name,
        submitted_at=moment,
    )
    _store_report(session, report, amended, period)
    revenue = _store_rows(session, report, obligation, submission)
    last = max(last_before, period.index)
    up_front = billing_queries.upfront_invoice(session, agreement.id)
    filing = Filing(
        agreement.number,
        period,
        agreement.currency,
        amended.id if amended else None,
        lines=[
            obligation.pricer.royalty(
                line,
                _usage(session, obligation, line, last, revenue.get(line.number)),
                charged_before[line.number],
                up_front.number if up_front is not None else None,
            )
            for line in obligation.lines
        ],
        # Round 68: the card that priced it by the one rule (its caption, the API's
        # `rate_card`).
        rate_card=obligation.priced_card,
        products=obligation.product_names,
    )
    if beyond_largest(filing.total_due):
        raise too_large_to_invoice(
            [f"The report's total due {exceeds_largest(filing.total_due, filing.currency)}."]
        )
    if last > period.index:
        filing.through = obligation.periods[last - 1]
    filing.flags = _anomalies(session, obligation, report, filing, last)
    return report, filing, revenue


def _store_report(
    session: Session, report: RoyaltyReport, amended: RoyaltyReport | None, period: Period
) -> None:
    """Store the report, or 409 when the database holds that the period already has
    its current report or the amended report its amendment (`RoyaltyReport`'s unique
    indexes): stored by a path that skipped the agreement's lock, or by hand."""
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError as refused:
        raise Conflict(_refused_report(session, amended, period)) from refused
    # The period has its current report from now on (an amendment's replaces the one
    # it supersedes): the dashboard reads the periods still to file by this (round 53),
    # written in the filing's own transaction, with its audit event.
    session.execute(
        update(ReportingPeriod)
        .where(
            ReportingPeriod.agreement_id == report.agreement_id,
            ReportingPeriod.period_start == report.period_start,
        )
        .values(filed=True)
    )


def _refused_report(session: Session, amended: RoyaltyReport | None, period: Period) -> str:
    amendment = amended_by(session, amended.id) if amended is not None else None
    if amended is not None and amendment is not None:
        return (
            f"Report {amended.reference} is already amended by report "
            f"{amendment.reference}, so it cannot be amended again; the period's records "
            "disagree, and the licensing office must resolve them before it is reported again."
        )
    return (
        f"The period {period.label} already has a current report stored; reload the "
        "period and amend its current report."
    )


def _reason(reason: Any) -> str:
    # Composed as any text entering (kana60): a JSON file's is read by ijson, not `limits`.
    return composed(reason.strip()) if isinstance(reason, str) else ""


ATTEST_MALFORMED = "Give attest as true or false (true to file the report)."


REPORT_PROBLEMS = "The report has problems."


def _submission_problems(submission: Submission, previewing: bool) -> dict[str, list[str]]:
    """The problems of the submission besides its rows' (its shape, the attestation,
    the amendment's id and reason), told with the rows' own (round 57: a submission
    without `attest` was answered with the attestation alone, the rows' problems only
    on the next try, where the contract asks every problem of a report at once)."""
    problems = {path: list(messages) for path, messages in submission.problems.items()}
    if submission.attest is not None and not isinstance(submission.attest, bool):
        # Malformed ("yes", 1): refused by a preview too, which otherwise takes
        # none (it stores nothing; the portal previews before the box is ticked).
        problems.setdefault("attest", []).append(ATTEST_MALFORMED)
    elif not previewing and submission.attest is not True:
        problems.setdefault("attest", []).append(
            "Attest that the report is complete and accurate (attest: true)."
        )
    if submission.amends is not None:
        if _report_id(submission.amends) is None:
            problems.setdefault("amends", []).append("Give the id of the report amended.")
        reason = _reason(submission.reason)
        if not reason:
            problems.setdefault("reason", []).append("Say why the report is amended.")
        elif len(reason) > REASON_MAX:
            problems.setdefault("reason", []).append(at_most_characters(REASON_MAX))
    return problems


def _together(problems: Mapping[str, list[str]], found: InvalidInput) -> InvalidInput:
    """`found` (the rows' problems) with the submission's own before them."""
    together = {path: list(messages) for path, messages in problems.items()}
    for path, messages in found.errors.items():
        together.setdefault(path, []).extend(messages)
    return InvalidInput(REPORT_PROBLEMS, together)


def _report_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    if isinstance(value, str):  # ASCII digits only: int("²") is a ValueError
        return record_id(value)
    return None


def _check_period(
    session: Session,
    obligation: Obligations,
    period: Period,
    reports: Mapping[date, RoyaltyReport],
    submission: Submission,
    moment: datetime,
) -> RoyaltyReport | None:
    """The report amended (None for a first filing), or 409 saying why not."""
    agreement = obligation.agreement
    today = office_date(moment)
    if agreement.state not in REPORTING_STATES:
        raise Conflict(not_reporting(agreement))
    current = reports.get(period.start)
    # Round 59: a refusal naming a report lists the caller's own steps of it (its
    # `allowed_actions`), and tells an amendment the agreement no longer takes before
    # sending the vendor to amend the current report.
    cannot_amend = amendment_refusal(agreement, today)
    if submission.amends is not None:
        amends = _report_id(submission.amends)
        if cannot_amend is not None and current is not None:
            raise refused_report_step(current, AMEND, cannot_amend)
        if current is None or current.id != amends:
            named = f"report {current.reference}" if current else "no report yet"
            given = RoyaltyReport.reference_of(amends) if amends is not None else submission.amends
            detail = (
                f"Report {given} is not the current report of the period "
                f"{period.label} (which has {named}); amend the current report."
            )
            stale = session.get(RoyaltyReport, amends) if amends is not None else None
            if stale is not None and stale.agreement_id == agreement.id:
                raise refused_report_step(stale, AMEND, detail)
            raise Conflict(detail)
        return current
    if current is not None:
        if cannot_amend is not None:
            raise refused_report_step(
                current,
                "submit",
                f"The period {period.label} already has report {current.reference}. "
                + cannot_amend,
            )
        raise refused_report_step(
            current,
            "submit",
            f"The period {period.label} already has report {current.reference}; to correct "
            f"it, amend it (amends: {current.id}, with a reason).",
        )
    missing = next(
        (p for p in obligation.periods[: period.index - 1] if p.start not in reports), None
    )
    if missing is not None:
        # Round 60 (edges60): the period as fields too (`file_first`), as the too-early
        # refusal gives its `available_from`.
        raise FileFirst(
            f"Reports are filed in period order: first report the period {missing.label}.",
            agreement_id=agreement.id,
            start=missing.start,
            end=missing.end,
        )
    if today < period.first_filing_day:
        # Round 60: the day as an instant too (`available_from`), as every refusal
        # that names when to try again gives it, so a program need not read the detail.
        raise Conflict(
            f"The period {period.label} has not ended; report it from "
            f"{period.first_filing_day.isoformat()}.",
            instants={"available_from": office_day_start(period.first_filing_day)},
        )
    return None


def _store_rows(
    session: Session, report: RoyaltyReport, obligation: Obligations, submission: Submission
) -> dict[int, Decimal]:
    """Check and store every row; the revenue reported per line. Raises
    `InvalidInput` with every problem found (the caller's transaction then
    rolls back, so nothing is stored)."""
    lines = {line.number: line for line in obligation.lines}
    problems = Problems()
    revenue = {line.number: Decimal(0) for line in obligation.lines if line.takes_revenue}
    with _RowWriter(session.connection(), report.id) as writer:
        count = _check_rows(submission, lines, problems, revenue, writer)
    report.row_count = count
    return revenue


def _check_rows(
    submission: Submission,
    lines: Mapping[int, ReportableLine],
    problems: Problems,
    revenue: dict[int, Decimal],
    writer: _RowWriter | None,
) -> int:
    """Check every row, adding the good ones to `writer` (None: only checked) until a
    problem is found; the number of rows. Raises `InvalidInput` with every problem found: a row that
    repeats another's line, unit and customer is refused whether either row has
    problems of its own or not (`RowKey`; round 56: a repeat of a refused row, or a
    refused repeat, was reported only once the refused row was corrected), as the
    contract asks every problem of a report at once. A JSON row that gives a key twice
    is one of those problems, keyed `rows.N.KEY` (round 58: a 400 naming it alone,
    `RepeatedKey`): found once the rows are read (`RowKeysRepeated`), the rows are
    then read and checked again with each row's keys noted, storing nothing."""
    try:
        return _check_each(submission.rows(), lines, problems, revenue, writer)
    except RowKeysRepeated:
        for number in revenue:
            revenue[number] = Decimal(0)
        rows = submission.rows(keys_noted=True)
        return _check_each(rows, lines, Problems(), revenue, None, keys_noted=True)


# A row's cells the duplicate check compares: one of them given twice names no customer.
_KEY_COLUMNS = frozenset(("line", "unit", "customer_id"))


def _check_each(
    rows: Iterator[tuple[int, Any]],
    lines: Mapping[int, ReportableLine],
    problems: Problems,
    revenue: dict[int, Decimal],
    writer: _RowWriter | None,
    *,
    keys_noted: bool = False,
) -> int:
    """`_check_rows` over `rows`, read once (`keys_noted`: each row a mapping that
    names a key it gave twice; only then is it asked, not of every row of a report)."""
    # The duplicate check, one dict per line and unit (a handful): customer key to the
    # row number that gave it. It is all that grows with the report while the rows
    # stream through (round 42): keyed by (line, unit, key) tuples it held a tuple and
    # the row's own copy of its unit for every row besides the key and the number,
    # 54 of the request's 56 MB at 200,000 rows.
    seen: dict[tuple[int, str], dict[str, int]] = {}
    count = 0
    for number, fields in rows:
        if isinstance(fields, str):  # a row the reader could not split
            problems.add(f"rows.{number}" if number >= 0 else "_body", fields)
            continue
        row = check_row(number, fields, lines, problems)
        if keys_noted and (repeated := repeated_key(fields)) is not None:
            # Checked on the value the key was given last, and refused: its key kept
            # for the duplicate check unless the repeat is in the key itself.
            problems.add(f"rows.{number}.{repeated}", repeated_key_message(repeated))
            if row is None or repeated in _KEY_COLUMNS:
                continue
            row = RowKey(row.number, row.line, row.customer_id, row.customer_key, row.unit)
        if row is None:
            continue
        customers = seen.get((row.line, row.unit))
        if customers is None:
            customers = seen[(row.line, row.unit)] = {}
        first = customers.get(row.customer_key)
        if first is not None:
            problems.add(
                f"rows.{number}.customer_id",
                f"Rows {first} and {number} both report customer {row.customer_id!r} "
                f"on line {row.line}" + (f" in {row.unit}" if row.unit else "") + "; "
                "give each customer once per line and unit.",
            )
            continue
        customers[row.customer_key] = number
        if isinstance(row, RowKey):
            continue  # refused for its other cells: its key kept, the row not
        count += 1
        if row.revenue is not None:
            revenue[row.line] += row.revenue
        if problems or writer is None:
            continue  # nothing will be stored: stop writing, keep checking
        writer.add(row)
    for number, total in revenue.items():
        if total >= LINE_REVENUE_MAX:
            problems.add("rows", f"Line {number}'s revenue adds up to more than the service holds.")
    if problems:
        raise InvalidInput("Some rows of the report have problems.", problems.summary())
    return count


_ROW_COLUMNS = (
    "report_id",
    "row_number",
    "line",
    "customer_id",
    "customer_key",
    "customer_name",
    "country",
    "unit",
    "quantity",
    "revenue",
)


class _RowWriter:
    """Stores checked rows the way each database takes many rows fastest; the rows
    are never loaded as objects here, so not through the ORM, whose per-row
    bookkeeping was a fifth of storing them (profiled). Either way the revenue is
    first put in its stored form by the Money type, as Core would.

    PostgreSQL: one COPY FROM STDIN, in the report's transaction, open while the
    rows are read and checked: psycopg sends the rows as its buffer fills, so the
    server stores them (checking each one's foreign key, adding it to the indexes)
    while this process checks the next ones, where a COPY per batch of rows left
    each side waiting for the other. Nothing else may use the connection until the
    writer is left; leaving it on an exception abandons the COPY (the transaction
    then rolls back). SQLite: the driver's executemany, `BATCH` rows at a time,
    with tuples (Core's parameter processing, row by row, was a sixth of filing a
    large report). Other databases: Core's executemany."""

    def __init__(self, connection: Connection, report_id: int) -> None:
        self.connection = connection
        self.report_id = report_id
        self.batch: list[tuple[Any, ...]] = []
        self.dialect = connection.dialect
        self.money = Money()  # the revenue column's type
        self.insert = insert(RoyaltyReportRow)
        compiled = self.insert.compile(dialect=self.dialect, column_keys=list(_ROW_COLUMNS))
        if self.dialect.name == "sqlite":
            assert compiled.positiontup == list(_ROW_COLUMNS)
        self.sql = str(compiled)
        self.copying = ExitStack()
        self.copy: Any = None

    def __enter__(self) -> _RowWriter:
        if self.dialect.name == "postgresql":
            self.copy = self.copying.enter_context(self._copy())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            self._flush()
        # Ends the COPY: the rows stored, or, on an exception, abandoned.
        self.copying.__exit__(kind, error, trace)

    def add(self, row: Row) -> None:
        revenue = row.revenue
        stored = None if revenue is None else self.money.process_bind_param(revenue, self.dialect)
        values = (self.report_id, *row[:-1], stored)  # Row's order: _ROW_COLUMNS[1:]
        if self.copy is not None:
            self.copy.write_row(values)
            return
        self.batch.append(values)
        if len(self.batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.batch:
            return
        if self.dialect.name == "sqlite":
            self.connection.exec_driver_sql(self.sql, self.batch)
        else:
            self.connection.execute(
                self.insert, [dict(zip(_ROW_COLUMNS, values, strict=True)) for values in self.batch]
            )
        self.batch = []

    @contextmanager
    def _copy(self) -> Iterator[Any]:
        from psycopg import sql

        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(RoyaltyReportRow.__tablename__),
            sql.SQL(", ").join(sql.Identifier(name) for name in _ROW_COLUMNS),
        )
        driver = self.connection.connection.driver_connection
        assert driver is not None  # a connection checked out of the pool
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            yield copy


def _store_lines(
    session: Session, report: RoyaltyReport, filing: Filing, revenue: Mapping[int, Decimal]
) -> None:
    for line in filing.lines:
        session.add(
            RoyaltyReportLine(
                report_id=report.id,
                revenue_reported=revenue.get(line.line),
                quantities_json=json.dumps(dict(line.quantities_to_date), sort_keys=True),
                due=line.due,
                explanation_json=json.dumps(list(line.explanation)),
                **attributes(line, LINE_ROYALTY_COLUMNS),
            )
        )
    session.flush()


def _after_filing(
    session: Session,
    agreement: Agreement,
    report: RoyaltyReport,
    filing: Filing,
    moment: datetime,
    actor: Actor,
) -> None:
    accounts.restore_standing_if_clear(
        session, agreement.organization_id, office_date(moment), actor=actor
    )
    # A notice for staff (anomalies, a console link): never the licensee's; with no
    # staff to tell, the report still waits in the console's flagged queue.
    if filing.flags:
        mail.notify_staff(
            session,
            "licensing",
            subject=f"Royalty report {report.reference} for {agreement.number} is flagged",
            template="royalty_report_flagged",
            context={
                "report": report,
                "agreement": agreement,
                "flags": filing.flags,
                "link": links().royalty_report_review(report.id),
            },
        )
