"""/api/v1/jobs: the periodic jobs as `licensing jobs status` and the console's Jobs
page show them, and each job's recent runs (admins; round 47). Before, a monitoring
script had `/readyz`'s one sentence or a server's shell."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import Select

from licensing import access, job_runs, worker
from licensing.api.base import Blueprint
from licensing.api.fields import ApiSchema, vocabulary
from licensing.config import current_config
from licensing.errors import NotFound

blp = Blueprint(
    "jobs_api",
    __name__,
    description="The periodic jobs (admins): each job's last run, those late or failing "
    "in `/readyz`'s words, and each job's recent runs.",
)

STATES = worker.JOB_STATES


class JobSchema(ApiSchema):
    name = ma.fields.String(metadata={"description": "As `licensing worker` names it."})
    every = ma.fields.String(
        attribute="every_words",
        metadata={"description": 'Its interval in words, as `/readyz` says it ("hour").'},
    )
    every_seconds = ma.fields.Integer()
    state = ma.fields.String(
        metadata={
            "enum": list(STATES),
            "description": "`never run`: no run of it recorded, its `last_...` all null "
            "(and its runs an empty list).",
        }
    )
    trouble = ma.fields.String(
        allow_none=True,
        metadata={"description": "When late or failing, `/readyz`'s `jobs_detail` for it."},
    )
    last_started_at = ma.fields.DateTime(allow_none=True)
    last_finished_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "None while the last run started has no end recorded."},
    )
    last_ok = ma.fields.Boolean(allow_none=True)
    last_run = ma.fields.String(
        allow_none=True,
        metadata={
            "enum": [*job_runs.OUTCOMES, None],
            "description": "How the last run ended, in its runs' words: `ok`, `failed`, or "
            "`unfinished` (no end yet); None: never run. What the `last_run` filter takes "
            "(round 49).",
        },
    )
    last_outcome = ma.fields.String(allow_none=True)
    last_succeeded_at = ma.fields.DateTime(allow_none=True)
    last_run_id = ma.fields.String(allow_none=True)


class JobsSchema(ApiSchema):
    """Not a list (no pages): every job of the schedule, and what `/readyz` says."""

    state = ma.fields.String(
        metadata={
            "enum": ["ok", "late", "failing"],
            "description": "As `/readyz`'s `jobs`: `late` when some job is late.",
        }
    )
    jobs_detail = ma.fields.String(
        allow_none=True,
        metadata={"description": "As `/readyz`'s `jobs_detail`: each job late or failing."},
    )
    jobs = ma.fields.List(ma.fields.Nested(JobSchema))


class JobRunSchema(ApiSchema):
    id = ma.fields.Integer()
    job = ma.fields.String()
    run_id = ma.fields.String(allow_none=True)
    started_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "None: its start was not kept."}
    )
    finished_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "None: still running, or stopped before it finished."},
    )
    ok = ma.fields.Boolean(allow_none=True)
    outcome = ma.fields.Function(
        job_runs.outcome_of,
        metadata={
            "type": "string",
            "enum": list(job_runs.OUTCOMES),
            "description": "`ok`, `failed`, or `unfinished` (no end: still running, or "
            "stopped before it finished); what the `outcome` filter takes (round 48).",
        },
    )
    summary = ma.fields.String(
        allow_none=True, metadata={"description": "What it did: the job's closing line."}
    )
    error = ma.fields.String(
        allow_none=True, metadata={"description": "On failure, the error's first line."}
    )


class JobQuerySchema(ApiSchema):
    state = vocabulary(
        STATES,
        metadata={"description": "Only the jobs in this state: `late` for the overdue ones."},
    )
    last_run = vocabulary(
        job_runs.OUTCOMES,
        metadata={
            "description": "Only the jobs whose last run ended so: `failed` (a late job's "
            "too, which `state` names `late`)."
        },
    )


@blp.route("/jobs")
@access.staff("admin")
@blp.arguments(JobQuerySchema, location="query")
@blp.response(200, JobsSchema)
def list_jobs(query: dict[str, Any]) -> dict[str, Any]:
    """Every job of the worker's schedule, in its order, as `licensing jobs status`
    lists them, with `/readyz`'s `jobs` and `jobs_detail` (the same sentences).
    `state` and `last_run` (round 49) narrow `jobs` to those so (`state=late`: the
    overdue; `last_run=failed`); `state` and `jobs_detail` stay the whole schedule's."""
    statuses, trouble = worker.jobs_overview(current_config())
    listed = worker.jobs_where(statuses, query.get("state"), query.get("last_run"))
    return {
        "state": "ok" if trouble is None else trouble.state,
        "jobs_detail": None if trouble is None else trouble.detail,
        "jobs": [_job(status) for status in listed],
    }


@blp.route("/jobs/<name>")
@access.staff("admin")
@blp.response(200, JobSchema)
def get_job(name: str) -> dict[str, Any]:
    """One job as `GET /jobs` lists it (round 48), for a monitor that watches one:
    its state, its trouble in `/readyz`'s words, its last run. `name` as the job is
    named, its space written `%20`; a name the schedule lacks is a 404."""
    statuses, _trouble = worker.jobs_overview(current_config())
    status = next((job for job in statuses if job.name == name), None)
    if status is None:
        raise NotFound(f"No periodic job is named {name!r}.")
    return _job(status)


def _job(status: worker.JobStatus) -> dict[str, Any]:
    row = status.record
    return {
        "name": status.name,
        "every_words": status.every_words,
        "every_seconds": int(status.every.total_seconds()),
        "state": status.state,
        "trouble": None if status.trouble is None else status.trouble.text(),
        "last_started_at": None if row is None else row.last_started_at,
        # An end before the last start is the run before's: not this run's.
        "last_finished_at": row.last_finished_at if row and status.finished else None,
        "last_ok": row.last_ok if row and status.finished else None,
        "last_run": status.last_run,
        "last_outcome": row.last_outcome if row and status.finished else None,
        "last_succeeded_at": None if row is None else row.last_succeeded_at,
        "last_run_id": None if row is None else row.last_run_id,
    }


class JobRunQuerySchema(ApiSchema):
    outcome = vocabulary(
        job_runs.OUTCOMES,
        metadata={"description": "Only the runs that ended so: `failed` for the failures."},
    )


@blp.route("/jobs/<name>/runs")
@access.staff("admin")
@blp.arguments(JobRunQuerySchema, location="query")
@blp.paginate(JobRunSchema)
def list_job_runs(query: dict[str, Any], name: str) -> Select[job_runs.PastRun]:
    """The job's kept runs (its last 50), the newest recorded first (id descending);
    with `outcome`, only those that ended so (`outcome=failed`: the failures).
    `name` as the job is named, its space written `%20` (`outbox%20send`)."""
    if name not in {job for job, _every in worker.SCHEDULE}:
        raise NotFound(f"No periodic job is named {name!r}.")
    return job_runs.history(name, query.get("outcome"))
