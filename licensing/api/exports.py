"""/api/v1/exports: billing datasets for finance systems (billing staff).

`GET /api/v1/exports` lists the datasets and their versioned schemas;
`GET /api/v1/exports/{dataset}` streams one as CSV, JSON Lines or XLSX from a
server-side cursor, and the export is audited when the stream ends. Bad filters
are a 422 before any byte is sent. Columns: docs/exports.md.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request

from licensing import access, db
from licensing.accounts import services as accounts
from licensing.accounts.models import LEGAL_NAME_MAX
from licensing.accounts.queries import people_of
from licensing.actors import current_actor
from licensing.api import negotiation
from licensing.api.base import Blueprint
from licensing.api.fields import STRINGS, ApiSchema, Day, Text, documented, record_id, vocabulary
from licensing.audit.models import AuditEvent
from licensing.downloads import document_rate_limit
from licensing.errors import InvalidInput
from licensing.exports import base, services
from licensing.exports.filters import (
    BASIS_MEANINGS,
    CLASSIFIED_VALUES,
    DATE_BASES,
    UNCLASSIFIED,
)
from licensing.exports.formats import FORMATS
from licensing.exports.views import download
from licensing.pricing.vocabulary import USES
from licensing.problems import INVALID_FIELDS

blp = Blueprint(
    "exports_api",
    __name__,
    description=(
        "Billing exports for finance (billing staff): invoices, invoice lines, payments, "
        "credit notes and their lines, the agreements register, receivables aging and the "
        "revenue-recognition schedule, streamed as CSV, JSON Lines or XLSX."
    ),
)

Length = ma.validate.Length


def _bases_described() -> str:
    """`by`'s values, each with what the days apply to and the datasets that take it
    (each dataset's first is its default; `GET /exports` lists them too)."""
    datasets = base.all_datasets().values()
    described = []
    for basis in DATE_BASES:
        taking = ", ".join(d.name for d in datasets if basis in d.date_bases)
        described.append(f"`{basis}`: {BASIS_MEANINGS[basis]} ({taking})")
    return (
        "Which date from/to apply to; each dataset's first listed basis is its "
        "default. " + "; ".join(described) + "."
    )


class ExportQuerySchema(ApiSchema):
    format = vocabulary(FORMATS, load_default="csv")
    from_ = Day(data_key="from", metadata={"description": "First day, included"})
    to = Day(metadata={"description": "Last day, included"})
    # Which date from/to apply to; each dataset lists its own (GET /exports).
    by = vocabulary(DATE_BASES, metadata={"description": _bases_described()})
    organization = record_id(
        metadata={"description": "An organization id; or `organization_name` (one of them)"}
    )
    organization_name = ma.fields.String(
        validate=Text(LEGAL_NAME_MAX),
        metadata={
            "description": "An organization by legal name, whole, in any case and script "
            "(round 51; `licensing exports --organization`'s lookup): a name several "
            "organizations have, or none has, is a 422 listing at most 10 of them with "
            "their ids. Or `organization` (one of them)",
            "example": "Harbor Analytics LLC",
        },
    )
    state = ma.fields.String(validate=Text(30))
    currency = ma.fields.String(validate=Length(equal=3))
    use = vocabulary(
        (*USES, UNCLASSIFIED),
        metadata={
            "description": "invoice_lines and the line datasets: the line's use; with "
            "`kind` or a classification below (round 60), as the Finance page classifies "
            "it, `unclassified` included"
        },
    )
    # Round 60 (linesfig60): invoice_lines chosen as the Finance page's revenue by
    # classification counts them (its invoice lines list's filter): of invoices not void.
    kind = vocabulary(
        CLASSIFIED_VALUES["kind"],
        metadata={
            "description": "invoice_lines (and, round 61, credit_note_lines: the credit notes "
            "of those invoices): `fee` (up front), `royalty`, `license` (both) or `other` "
            "(late fees, manual), as the Finance page counts them; `royalty` on "
            "credit_note_lines is the page's royalty credit notes"
        },
    )
    product_type = vocabulary(CLASSIFIED_VALUES["product_type"])
    user_type = vocabulary(CLASSIFIED_VALUES["user_type"])
    organization_type = vocabulary(CLASSIFIED_VALUES["organization_type"])
    as_of = Day(
        metadata={
            "description": "receivables: the day the balances are as of (default today); "
            "invoices (round 59): each invoice issued by the day as it stood at its end "
            "(default: as it stands)"
        }
    )
    owed_back_on = Day(
        metadata={
            "description": "receivables: instead of the balances owing as of a day, the "
            "invoices owed a refund at the end of this day (credited beyond what they "
            "owed, less refunds sent by then), each in `owed_back` (round 59); not "
            "with `as_of`"
        }
    )

    @ma.validates_schema
    def _one_organization(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "organization" in data and "organization_name" in data:
            raise ma.ValidationError(
                "Give organization or organization_name, not both.", field_name="organization_name"
            )


class ColumnSchema(ApiSchema):
    name = ma.fields.String()
    type = ma.fields.String(attribute="kind")
    description = ma.fields.String()


class DatasetSchema(ApiSchema):
    name = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    schema_version = ma.fields.Integer()
    columns = ma.fields.List(ma.fields.Nested(ColumnSchema))
    date_bases = ma.fields.List(ma.fields.String())
    filters = documented("_filters", STRINGS)
    states = ma.fields.List(ma.fields.String())

    def _filters(self, dataset: base.Dataset) -> list[str]:
        return sorted(dataset.filters)


class ExportRecordQuerySchema(ApiSchema):
    dataset = vocabulary(base.all_datasets())  # only this dataset's


class ExportRecordSchema(ApiSchema):
    """One export as the audit log recorded it when its stream ended."""

    seq = ma.fields.Integer(metadata={"description": "The audit event's number"})
    exported_at = ma.fields.DateTime(metadata={"description": "When the stream ended (UTC)"})
    exported_by = ma.fields.String(
        metadata={"description": "Who exported: a user's email, or system (the command line)"}
    )
    dataset = ma.fields.String()
    schema_version = ma.fields.Integer()
    format = ma.fields.String(metadata={"enum": list(FORMATS)})
    filter = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "The filter as the query arguments that repeat it"},
    )
    rows = ma.fields.Integer(metadata={"description": "Rows sent"})
    bytes = ma.fields.Integer(metadata={"description": "Bytes sent, exactly the file's"})
    sha256 = ma.fields.String(
        metadata={"description": "SHA-256 of exactly the bytes sent, in hexadecimal"}
    )
    complete = ma.fields.Boolean(
        metadata={"description": "false: the client stopped reading or the export failed"}
    )
    exported_by_name = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The name of who exported (`exported_by` is their address as "
            "recorded), as the console names them now; null for system (round 60)"
        },
    )

    @ma.pre_dump
    def _from_event(self, event: AuditEvent, **_kwargs: Any) -> dict[str, Any]:
        recorded = event.after_data if isinstance(event.after_data, dict) else {}
        return {
            **recorded,
            "seq": event.seq,
            "exported_at": event.occurred_at,
            "exported_by": event.actor,
            "exported_by_id": event.actor_user_id,
        }

    @ma.pre_dump(pass_collection=True)
    def _named(self, records: Any, many: bool, **_kwargs: Any) -> Any:
        """Who exported each record, named in one statement for the page (round 60)."""
        listed = records if many else [records]
        people = people_of(
            db.session(),
            ids=[record["exported_by_id"] for record in listed],
            addresses=[record["exported_by"] for record in listed],
        )
        for record in listed:
            record["exported_by_name"] = people.name_of(
                record["exported_by"], record["exported_by_id"]
            )
        return records


@blp.route("/exports/downloads")
@access.staff("billing")
@blp.arguments(ExportRecordQuerySchema, location="query")
@blp.paginate(ExportRecordSchema)
def list_downloads(query: dict[str, Any]) -> Any:
    """The exports you made, newest first (an admin's: everyone's, the command
    line's included), each with its rows, bytes and the SHA-256 of exactly the
    bytes sent: compare a downloaded file's digest with its record's. The digest
    cannot precede a streamed body, so it is read here once the download ends."""
    return services.recorded_exports(current_actor(), query.get("dataset"))


@blp.route("/exports")
@access.staff("billing")
@blp.paginate(DatasetSchema)
def list_exports() -> list[base.Dataset]:
    """Every dataset with its schema version, columns and the filters it takes."""
    return list(base.all_datasets().values())


def _media_types() -> dict[str, Any]:
    return {
        export_format.media_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
        for export_format in FORMATS.values()
    }


@blp.route("/exports/<dataset>")
@access.staff("billing")
@document_rate_limit()
@blp.arguments(ExportQuerySchema, location="query")
@blp.doc(
    responses={
        "200": {
            "description": (
                "The file, streamed. CSV: UTF-8, a header row, `schema_version` as the first "
                "column. JSON Lines: a header record (dataset, schema_version, filter, "
                "columns), then one object per row. XLSX: the rows, and an `about` sheet."
            ),
            "content": _media_types(),
        },
    },
)
@blp.alt_response(404, description="No such dataset")
@blp.alt_response(422, description="A filter the dataset does not take, or a bad value")
@blp.alt_response(
    409,
    description="The rows hold a currency the service does not know (a record changed in "
    "the database): nothing is exported; the detail names the first record",
)
def export(query: dict[str, Any], dataset: str) -> Response:
    """Stream one dataset. Money is a decimal string with the currency's digits,
    dates ISO 8601; `from`/`to` apply to the date `by` names (each dataset's
    first date basis by default)."""
    given = {key.rstrip("_"): value for key, value in query.items()}
    # `format` picks the answer among the three the route documents: the Accept
    # header must admit that one (`api.negotiation`).
    negotiation.require_acceptable(request, [FORMATS[given["format"]].media_type.split(";")[0]])
    # By name, as the command's --organization (round 51), the refusal in its words.
    by_name = given.pop("organization_name", None)
    named = {"organization": "organization_name"} if by_name is not None else {}
    try:
        if by_name is not None:
            given["organization"] = accounts.organization_by_name(by_name)
        export = services.prepare(dataset, given.pop("format"), given)
    except InvalidInput as error:
        # The service names the filters as the console's form fields; on the API
        # they are query arguments, named `query.NAME` like every other one (the
        # organization as the caller gave it), and the detail is the one an argument
        # the schema refused gets.
        raise InvalidInput(
            INVALID_FIELDS,
            {f"query.{named.get(name, name)}": texts for name, texts in error.errors.items()},
        ) from None
    return download(export)
