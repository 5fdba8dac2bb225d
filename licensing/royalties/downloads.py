"""A report's CSV files as downloads: the blank template for a period and the rows
a report was filed with, the same bytes from the pages and the API."""

from __future__ import annotations

from datetime import date

from flask import Response

from licensing.actors import Actor
from licensing.royalties import queries, services
from licensing.royalties.rows import COLUMNS, template_csv
from licensing.streaming import stream_rows


def template_response(agreement_id: int, start: date, actor: Actor) -> Response:
    obligation, rows = services.template_rows(agreement_id, start, actor)
    name = f"{obligation.agreement.number}-{start.isoformat()}-royalty-report.csv"
    response = Response(template_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def rows_response(report_id: int, actor: Actor) -> Response:
    services.get_report(report_id, actor)
    return stream_rows(
        lambda session: queries.report_rows(session, report_id),
        header=COLUMNS,
        filename=f"royalty-report-{report_id}.csv",
    )
