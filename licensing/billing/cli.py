"""`licensing payments reconcile`, `licensing payments prune-keys`,
`licensing payments match-disputes`, `licensing payments fill-charge-ids`,
`licensing payments withdraw-unknown-intents` (round 65, by an operator),
`licensing invoices overdue` and
`licensing statements send`; `licensing invoices reopen-owed` once, after
billing_0021: from a scheduler, on any number of hosts (rows
are claimed with SKIP LOCKED)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

import click
from flask.cli import with_appcontext

from licensing import calendar, db, job_runs
from licensing.actors import Actor, operator_login
from licensing.billing import gateways, idempotency, services
from licensing.clock import now_option
from licensing.config import Config, current_config
from licensing.db import utcnow
from licensing.errors import DomainError, InvalidInput
from licensing.finance.services import parse_month
from licensing.options import whole_number_option


def without_stripe(config: Config) -> str | None:
    """Why the Stripe jobs (`payments reconcile`, `payments match-disputes`) have
    nothing to do under `config`, or None: the worker and the commands say it alike."""
    return None if config.stripe_enabled else "card payments are not configured"


def _skipped_without_stripe() -> bool:
    """Says `skipped: ...` (exit 0) when Stripe is not configured, as the worker logs
    it: a crontab written for every job runs on an office without cards (round 32:
    reconcile exited 1 with the licensee's words, "Card payments are not available;
    pay by wire, ACH or check.", and match-disputes ran)."""
    why = without_stripe(current_config())
    if why:
        click.echo(job_runs.closing(f"skipped: {why}"))
    return why is not None


def reconcile_due(
    now: datetime | None = None, older_than: timedelta = services.RECONCILE_AFTER
) -> tuple[services.ReconcileReport, ...]:
    """The `payments reconcile` job, for the command and the worker: card payments,
    then card refunds, still pending after `older_than`, then flagged card payments
    refunded at Stripe (round 36), then payments being given back whose answer
    never came (round 42), then payments given back in the last
    `GIVE_BACK_FAILURE_WINDOW` whose refund Stripe says failed (round 40), through
    the running app's gateway."""
    gateway = gateways.gateway(current_config())
    return (
        services.reconcile_payments(gateway=gateway, now=now, older_than=older_than),
        services.reconcile_refunds(gateway=gateway, now=now, older_than=older_than),
        services.reconcile_given_back(gateway=gateway, now=now, older_than=older_than),
        # Round 42: give-backs whose answer never came, any age past a few minutes.
        services.reconcile_giving_back(
            gateway=gateway,
            now=now,
            older_than=min(older_than, services.GIVING_BACK_ASK_AFTER),
        ),
        services.reconcile_give_back_failures(gateway=gateway, now=now, older_than=older_than),
    )


def reconcile_summary(reports: Sequence[services.ReconcileReport]) -> str:
    """The `payments reconcile` job's closing line, the worker's and the command's:
    each kind of record's report, joined."""
    return "; ".join(str(report) for report in reports)


def prune_summary(pruned: int) -> str:
    """The `payments prune-keys` job's closing line, the worker's and the command's."""
    return f"{pruned} idempotency keys pruned"


def prune_due(now: datetime | None = None) -> int:
    """The `payments prune-keys` job, for the command and the worker: how many went."""
    return idempotency.prune(now=now)


def overdue_due(
    now: datetime | None = None, on_late_fees: Callable[[int], None] | None = None
) -> services.OverdueReport:
    """The `invoices overdue` job, for the command and the worker: under the running
    app's OVERDUE_STANDING_DAYS (`on_late_fees`: told how many late fees each
    transaction committed)."""
    return services.process_overdue(
        standing_days=current_config().overdue_standing_days, now=now, on_late_fees=on_late_fees
    )


def match_due(now: datetime | None = None) -> services.MatchRun:
    """The `payments match-disputes` job, for the command and the worker: the disputes
    kept unmatched, matched through the running app's gateway where they can be now."""
    gateway = gateways.gateway(current_config())
    return services.match_disputes(gateway, actor=Actor.SYSTEM, now=now)


def statements_send_due(now: datetime | None = None) -> services.StatementRun:
    """The `statements send` job, for the command and the worker: the month just
    ended, each statement not sent yet (none again once sent)."""
    now = now or utcnow()
    return services.send_monthly_statements(services.month_just_ended(now), now=now)


@click.command("reconcile")
@whole_number_option(
    "--older-than-minutes",
    at_least=0,
    default=30,
    help="Ask Stripe about card payments and refunds still pending after this long "
    "without a webhook.",
)
@now_option
@with_appcontext
def reconcile(older_than_minutes: int, now: datetime) -> None:
    """Apply what Stripe says about card payments and card refunds whose outcome is unknown,
    about flagged card payments refunded at Stripe, about card payments being given
    back whose answer never came (past 5 minutes, or this option if shorter), and
    about card payments given back in the last 30 days whose refund failed."""
    if _skipped_without_stripe():
        return
    try:
        reports = reconcile_due(now, timedelta(minutes=older_than_minutes))
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    for report in reports:
        for line in report.outcomes:
            click.echo(line)
        click.echo(str(report))
    job_runs.closing(reconcile_summary(reports))  # its lines, joined as the worker's


@click.command("prune-keys")
@now_option
@with_appcontext
def prune_keys(now: datetime) -> None:
    """Forget the Idempotency-Key records of API requests older than 24 hours
    (a retry with such a key is carried out anew). Idempotent."""
    click.echo(job_runs.closing(prune_summary(prune_due(now))))


@click.command("overdue")
@now_option
@with_appcontext
def overdue(now: datetime) -> None:
    """Email reminders for overdue invoices (at most weekly), issue late-fee
    invoices per the agreement's terms, and move organizations with an invoice
    overdue beyond OVERDUE_STANDING_DAYS to pending_payment. Idempotent. The late
    fees are issued 50 to a transaction, their progress on standard error; a run
    stopped part way is finished by the next."""
    due = services.late_fees_due(db.session(), now)
    db.session().rollback()  # no transaction held while the organizations are worked through
    with click.progressbar(
        length=due, label="Late fees", file=sys.stderr, show_pos=True
    ) as progress:
        report = overdue_due(now, on_late_fees=progress.update)
    for number in report.late_fee_invoices:
        click.echo(f"late fee invoice {number}")
    for name in report.pending_payment:
        click.echo(f"pending payment: {name}")
    click.echo(job_runs.closing(str(report)))


@click.command("reopen-owed")
@click.option(
    "--apply", is_flag=True, help="Reopen the invoices listed (without it, nothing is changed)."
)
@with_appcontext
def reopen_owed(apply: bool) -> None:
    """List, or with --apply reopen, the invoices left paid though they are owed:
    before billing_0021 (round 53) the balance left out the refunds sent, so a card
    payment disputed, or a wire returned, for no more than a refund already sent
    back left its invoice paid. Each is reopened through the invoice's machine
    (audited as `system`, your login in the note); the next `licensing invoices
    overdue` reminds of it as of any open invoice. Idempotent."""
    lines = services.paid_yet_owed(apply=apply, operator=operator_login())
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("No paid invoice is owed: nothing to reopen.")
    elif apply:
        click.echo(f"{len(lines)} invoice(s) reopened.")
    else:
        click.echo(
            f"{len(lines)} paid invoice(s) owed; nothing changed: run again with --apply "
            "to reopen them."
        )


@click.command("match-disputes")
@now_option
@with_appcontext
def match_disputes(now: datetime) -> None:
    """Apply the disputes Stripe told of whose card payment was not found, now that
    it is: Stripe is asked again for each disputed charge's PaymentIntent. Says why
    each other one is still not matched. Idempotent."""
    if _skipped_without_stripe():
        return
    run = match_due(now)
    for line in (*run.matched, *run.dropped, *run.still):
        click.echo(line)
    click.echo(job_runs.closing(run.summary()))


def _statement_month(month: str | None, now: datetime) -> date:
    if not month:
        return services.month_just_ended(now)
    try:
        first_day = parse_month(month)
    except ValueError:
        raise click.BadParameter("use YYYY-MM, e.g. 2027-03", param_hint="--month") from None
    try:
        services.check_month(first_day, now)
    except InvalidInput as refused:
        raise click.BadParameter(" ".join(refused.errors["month"]), param_hint="--month") from None
    return first_day


@click.command("send")
@click.option(
    "--month",
    default=None,
    help="The month, YYYY-MM [default: the month just ended, in the office's time zone].",
)
@now_option
@with_appcontext
def send_statements(month: str | None, now: datetime) -> None:
    """Email each organization's billing contact its statement of account for the
    month (PDF attached), one per currency: those owing at the month's end or with a
    movement in it. Each statement goes once, however often and on however many
    hosts this runs; a run stopped part way is finished by the next."""
    first_day = _statement_month(month, now)
    due = services.statements_due(db.session(), first_day)
    db.session().rollback()  # no transaction held while the statements are worked through
    with click.progressbar(
        length=len(due.to_read),
        label=f"Statements of {first_day:%Y-%m}",
        file=sys.stderr,
        show_pos=True,
    ) as progress:
        run = services.send_monthly_statements(
            first_day, now=now, due=due, on_statement=lambda _outcome: progress.update(1)
        )
    for line in run.sent:
        click.echo(f"sent: {line}")
    for line in run.not_sent:
        click.echo(f"not sent: {line}", err=True)
    click.echo(job_runs.closing(run.summary()))


@click.command("fill-charge-ids")
@whole_number_option(
    "--batch-size",
    at_least=1,
    default=services.CHARGE_FILL_BATCH,
    help="Payments asked about, then written, at a time.",
)
@whole_number_option(
    "--limit",
    at_least=0,
    default=0,
    help="Ask about at most this many payments this run (0: every one).",
)
@now_option
@with_appcontext
def fill_charge_ids(batch_size: int, limit: int, now: datetime) -> None:
    """Give each card payment confirmed before payments kept their charge (round 24)
    its charge id, asked of Stripe (the PaymentIntent's latest charge), so that Stripe's
    events and disputes find it by the charge. A batch at a time, each payment filled
    audited; idempotent and resumable: a payment with a charge id is never asked about
    again. A PaymentIntent Stripe does not know is named and left as it is; Stripe
    unreachable stops the run (exit 1), what it filled kept."""
    if _skipped_without_stripe():
        return
    gateway = gateways.gateway(current_config())
    if gateway is None:  # without_stripe said so already; for the type
        return
    waiting = services.without_charge_id()
    length = waiting if not limit else min(limit, waiting)
    with click.progressbar(
        length=length, label="Card payments asked about", file=sys.stderr, show_pos=True
    ) as progress:
        run = services.fill_charge_ids(
            gateway,
            batch_size=batch_size,
            limit=limit or None,
            now=now,
            on_payment=lambda: progress.update(1),
        )
    for line in run.filled:
        click.echo(f"filled: {line}")
    for line in (*run.unknown, *run.no_charge):
        click.echo(f"not filled: {line}")
    if run.stopped is not None:
        click.echo(job_runs.closing(run.summary()), err=True)
        raise SystemExit(1)
    click.echo(job_runs.closing(run.summary()))


def _office_day(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """An option's office day, written YYYY-MM-DD (2027-03-31), or none."""
    if value is None:
        return None
    try:
        return calendar.parse_day(value)
    except ValueError:
        raise click.BadParameter(
            f"takes a day written YYYY-MM-DD, such as 2027-03-31 (not {value[:30]!r})",
            param=param,
        ) from None


@click.command("withdraw-unknown-intents")
@click.option("--all", "every", is_flag=True, help="Every report not looked at, whatever its day.")
@click.option(
    "--intent",
    "intents",
    multiple=True,
    metavar="PI",
    help="A PaymentIntent whose report is withdrawn (repeat it for more).",
)
@click.option(
    "--reported-from",
    callback=_office_day,
    metavar="YYYY-MM-DD",
    help="Only reports made on this office day or later.",
)
@click.option(
    "--reported-to",
    callback=_office_day,
    metavar="YYYY-MM-DD",
    help="Only reports made on this office day or earlier.",
)
@click.option(
    "--reason",
    default=None,
    help="Why (kept with each withdrawal in the audit log); required unless --dry-run.",
)
@click.option("--dry-run", is_flag=True, help="List the reports it would withdraw; change nothing.")
@whole_number_option(
    "--batch-size",
    at_least=1,
    default=services.WITHDRAW_BATCH,
    help="Reports withdrawn a transaction.",
)
@whole_number_option(
    "--limit", at_least=0, default=0, help="Withdraw at most this many this run (0: every one)."
)
@now_option
@with_appcontext
def withdraw_unknown_intents(
    every: bool,
    intents: tuple[str, ...],
    reported_from: date | None,
    reported_to: date | None,
    reason: str | None,
    dry_run: bool,
    batch_size: int,
    limit: int,
    now: datetime,
) -> None:
    """Withdraw the reports of PaymentIntents Stripe did not know that billing staff
    have not looked at, so that the next `payments reconcile` and `payments
    fill-charge-ids` ask Stripe about them again: after the service ran with the wrong
    Stripe keys (another account's, or test keys in production) and the right ones are
    back. --all, or the PaymentIntents (--intent) and office days reported
    (--reported-from, --reported-to) to withdraw. Each withdrawal is audited with the
    reason and your login; a batch a transaction; idempotent, and safe to run on two
    hosts at once. A PaymentIntent Stripe still does not know is reported again."""
    if every == bool(intents or reported_from or reported_to):
        raise click.UsageError(
            "Give --all, or the PaymentIntents (--intent) or days (--reported-from, "
            "--reported-to) whose reports to withdraw, not both."
        )
    try:
        selection = services.Withdrawal.of(
            intents, reported_from=reported_from, reported_to=reported_to
        )
        run = services.withdraw_reports(
            selection,
            reason=reason,
            actor=Actor.SYSTEM,
            by=f"licensing payments withdraw-unknown-intents on the command line, user "
            f"{operator_login()}",
            dry_run=dry_run,
            batch_size=batch_size,
            limit=limit or None,
            now=now,
        )
    except InvalidInput as refused:
        said = " ".join(message for messages in refused.errors.values() for message in messages)
        raise click.UsageError(said or refused.detail) from None
    for line in run.reports:
        click.echo(f"{'would withdraw' if dry_run else 'withdrawn'}: {line}")
    for intent in run.not_found:
        click.echo(
            f"not withdrawn: {intent}: no report of it not looked at (never reported, "
            "looked at, or withdrawn already)"
        )
    click.echo(run.summary())
