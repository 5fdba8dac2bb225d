"""The staff console's Jobs page (round 44): each periodic job as `licensing jobs
status` shows it, and the jobs late or failing in `/readyz`'s words, for admins
(docs/operations.md, "Jobs not run lately"). Before, an admin learned of a late
or failing job from `/readyz` or a server's shell only.

Round 47: each job's recent runs, a page at a time (`/console/jobs/<name>`),
linked from the Jobs page: the Jobs page shows only each job's last run.

Here rather than in `licensing.web`, the page toolkit, which imports no feature:
the schedule is the worker's, and the worker runs every feature's jobs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import Session

from licensing import access, arguments, calendar, db, job_runs, worker
from licensing.access import Principal
from licensing.agreements import queries as agreement_queries
from licensing.config import current_config
from licensing.mail import queries as mail_queries
from licensing.web import health, paging
from licensing.web.console import QueueSummary, queue_summary

bp = Blueprint("jobs_console", __name__, url_prefix="/console")

# A job's runs a page (round 47), as every console list; tests set it lower.
RUNS_PER_PAGE = paging.PER_PAGE


# The Jobs page's filters (round 49), named as its form labels them, and the words
# each value's option shows.
JOB_FILTERS = {"state": "State", "last_run": "Last run"}
JOB_CHOICES = {
    "state": {state: state for state in worker.JOB_STATES},
    "last_run": job_runs.OUTCOMES,
}


@bp.route("/jobs")
@access.staff("admin")
def jobs() -> tuple[str, int]:
    """Every job, its last run and `/readyz`'s words for those late or failing;
    `state` (`late`: overdue) and `last_run` (`failed`) list only the jobs so (round
    49), the trouble above them still the whole schedule's. A value the form does
    not offer is a 422, given twice a 400, said beside the filter, nothing listed."""
    statuses, trouble = worker.jobs_overview(current_config())
    args = request.args
    twice = arguments.repeated(args, labels=JOB_FILTERS)
    errors = twice or {
        name: message
        for field in JOB_FILTERS
        for name, message in arguments.unknown_choice(
            args, field, JOB_CHOICES[field], JOB_FILTERS[field]
        ).items()
    }
    chosen = {field: args.get(field) or None for field in JOB_FILTERS}
    listed = [] if errors else worker.jobs_where(statuses, **chosen)
    return render_template(
        "console/jobs.html",
        jobs=listed,
        scheduled=len(statuses),
        trouble=trouble,
        grace_minutes=current_config().job_grace_minutes,
        unfinished=worker.UNFINISHED,
        choices=JOB_CHOICES,
        chosen=chosen,
        errors=errors,
        labels=JOB_FILTERS,
        past_term=expiry_backlog(db.session(), db.utcnow()),
        # Round 61: mail the SMTP server has not taken, which no job's record shows
        # (the outbox's runs are ok: they tried every message).
        mail_behind=_mail_behind(),
    ), (400 if twice else 422 if errors else 200)


# The runs page's filter (round 48), named as its form labels it.
RUN_FILTERS = {"outcome": "Outcome"}


@bp.route("/jobs/<name>")
@access.staff("admin")
def job_runs_page(name: str) -> tuple[str, int]:
    """One job's kept runs, newest first, a page at a time, with its state as the
    Jobs page says it; a name the schedule does not have is a 404. `outcome`
    (round 48) lists only the runs that ended so (`failed`), kept by the pager's
    links; a value it does not offer is a 422, given twice a 400, each said beside
    the filter with nothing listed, as every console list."""
    statuses, _trouble = worker.jobs_overview(current_config())
    status = next((job for job in statuses if job.name == name), None)
    if status is None:
        abort(404)
    args = request.args
    twice = arguments.repeated(args, labels=RUN_FILTERS)
    errors = twice or arguments.unknown_choice(
        args, "outcome", job_runs.OUTCOMES, RUN_FILTERS["outcome"]
    )
    outcome = args.get("outcome") or None
    runs: paging.Page[job_runs.PastRun] | None = (
        None
        if errors
        else paging.read_page(db.session(), job_runs.history(name, outcome), per_page=RUNS_PER_PAGE)
    )
    return render_template(
        "console/job_runs.html",
        job=status,
        runs=runs.items if runs else [],
        page=runs,
        kept=job_runs.HISTORY_RUNS,
        unfinished=worker.UNFINISHED,
        outcomes=job_runs.OUTCOMES,
        outcome=outcome,
        errors=errors,
        labels=RUN_FILTERS,
    ), (400 if twice else 422 if errors else 200)


def _mail_behind() -> str | None:
    """`/readyz`'s `outbox_detail` for mail `behind` (round 61), or None."""
    count, minutes = mail_queries.behind(db.session(), db.utcnow())
    return mail_queries.behind_words(count, minutes) if count else None


def expiry_backlog(session: Session, now: datetime) -> agreement_queries.PastTerm:
    """The agreements the expiry run should have ended by `now` and has not (round 60,
    agreements60): a run that stopped, failed or skips them shows here even when no
    record says the job is late (a job never recorded, or run by cron without the
    worker's records, is late to no one)."""
    grace = timedelta(minutes=current_config().job_grace_minutes)
    return agreement_queries.past_term(session, now, grace)


@health.readiness_note
def expiry_readiness() -> dict[str, str]:
    """`/readyz`'s word on the expiry run's backlog: nothing while it keeps up;
    `expiry: behind`, `status: degraded` and how many agreements since when while
    any is still active past its term (round 60). Still 200: requests are served."""
    backlog = expiry_backlog(db.session(), db.utcnow())
    if not backlog.number:
        return {}
    return {
        "status": "degraded",
        "expiry": "behind",
        "expiry_detail": agreement_queries.past_term_words(backlog),
    }


@queue_summary
def _jobs_queue(session: Session, principal: Principal, now: datetime) -> Iterable[QueueSummary]:
    """The console home's line for the jobs (admins: the page's declaration): how
    many are late or failing, named as `/readyz` names them."""
    if not (principal.is_staff and "admin" in principal.roles):
        return  # the home shows it to admins alone: no read for anyone else
        return
    statuses, trouble = worker.jobs_overview(current_config())
    backlog = expiry_backlog(session, now)
    # Round 60: the expiry run behind, whatever its record says (`expiry_backlog`).
    behind = (
        [
            "The expiry run is behind: "
            + agreement_queries.past_term_words(backlog, calendar.day_text)
        ]
        if backlog.number
        else []
    )
    named = [] if trouble is None else [_named(trouble)]
    yield QueueSummary(
        "Periodic jobs",
        count=len(statuses),
        endpoint="jobs_console.jobs",
        attention=(0 if trouble is None else len(trouble.named)) + (1 if backlog.number else 0),
        attention_label="late, failing or behind" if backlog.number else "late or failing",
        oldest=None if trouble is None else trouble.since,
        detail=". ".join(named + behind),
    )


def _named(trouble: worker.Trouble) -> str:
    """`Late: JOB ...; JOB .... Failing: JOB ...`, each job in `jobs_detail`'s words."""
    parts = [
        f"{kind}: {'; '.join(job.text() for job in jobs)}"
        for kind, jobs in (("Late", trouble.late), ("Failing", trouble.failed))
        if jobs
    ]
    return ". ".join(parts)
