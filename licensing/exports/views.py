"""The console's Exports page (billing staff): choose a dataset, a format and a
filter; the file downloads as a stream. Bad filters re-show the form with a
message beside each field (422), before anything is exported."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context

from licensing import access, arguments, db
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import document_rate_limit
from licensing.errors import InvalidInput, NotFound
from licensing.exports import base, filters, queries, services
from licensing.exports.filters import PARAMETERS, Wording
from licensing.exports.formats import FORMATS
from licensing.money import CURRENCIES
from licensing.pricing.vocabulary import USES
from licensing.streaming import end_request_session
from licensing.words import axis_words, use_words

bp = Blueprint("exports_console", __name__, url_prefix="/console")
# The form's fields: the dataset, its format and the filter's parameters.
FIELDS = frozenset({"dataset", "format", *PARAMETERS})
# Each field's label: the form's (console/exports.html draws them from here) and a
# refusal's, beside the field or in the summary: its user sees "From", not the
# address's `from` (`arguments`).
FIELD_LABELS = {
    "dataset": "Dataset",
    "format": "Format",
    "from": "From",
    "to": "To",
    "by": "Dates apply to",
    "organization": "Organization",
    "state": "State",
    "currency": "Currency",
    "use": "Use",
    # Round 59 (asof59): the invoices take it too (their balances as of the day).
    "as_of": "Balances as of",
    "owed_back_on": "Refunds owed at the end of",
    # Round 60 (linesfig60): invoice lines as the Finance page classifies them.
    "kind": "Kind of line (Finance page)",
    "product_type": "Product type",
    "user_type": "User type",
    "organization_type": "Organization type",
}
# The Finance page's kinds of invoice line, as the form offers them (round 60).
KIND_LABELS = {
    "fee": "Up-front fees",
    "royalty": "Royalties",
    "license": "Up-front fees and royalties",
    "other": "Other invoices (late fees, manual)",
}
# Each format and date basis as the form offers it.
FORMAT_LABELS = {"csv": "CSV", "jsonl": "JSON Lines", "xlsx": "XLSX (spreadsheet)"}
DATE_BASIS_LABELS = {
    "issued": "Issue date",
    "paid": "Paid date",
    # Round 39: "Period" alone was the stored word; each dataset covers its own.
    "period": "Period covered (term, report period or month earned)",
    "reversed": "Day returned (reversals)",
    "recorded": "Day recorded or changed (nightly pulls)",
}


def _option_words(field: str, value: str) -> str:
    """A value of `field` as the form's option says it."""
    if field == "use":
        return use_words(value)
    if field == "kind":
        return KIND_LABELS.get(value, value)
    if field in ("product_type", "user_type", "organization_type"):
        return axis_words(field, value)
    if field == "format":
        return FORMAT_LABELS.get(value, value)
    if field == "by":
        return DATE_BASIS_LABELS.get(value, value)
    return value.replace("_", " ")


def _dataset_title(name: str) -> str:
    dataset = base.get(name)
    return dataset.title if dataset else name


# A refusal on the page names the dataset by its title, each field by its label and
# each value as the form's options do (the API names parameters and values).
PAGE_WORDS = Wording(
    dataset=_dataset_title,
    field=lambda name: FIELD_LABELS.get(name, name),
    value=_option_words,
)


@bp.route("/exports")
@access.staff("billing")
@document_rate_limit()
def exports() -> Response | tuple[str, int]:
    """The form; with `dataset` in the query, the export itself."""
    if not request.args.get("dataset"):
        return _page({}, 200)
    # Each field takes one value.
    if twice := arguments.repeated(request.args, among=FIELDS, labels=FIELD_LABELS):
        return _page(twice, 400)
    try:
        export = services.prepare(
            request.args.get("dataset", ""),
            request.args.get("format", "csv"),
            request.args,
            words=PAGE_WORDS,
        )
    except InvalidInput as error:
        return _page(error.errors, 422)
    except NotFound as error:
        return _page({"dataset": [error.detail]}, 422)
    try:
        return download(export)
    except services.CorruptRecords as error:
        return _page({"dataset": [error.detail]}, 409)


def download(export: services.ExportRequest) -> Response:
    """The export as a file streamed to the client, for the page and the API alike.

    It keeps the request's context (the audit record names who exported) but
    not the request's session, whose transaction ends before the first byte.
    Rows the service cannot export are refused first (`services.CorruptRecords`)."""
    services.check_records(export)
    end_request_session()
    return Response(
        stream_with_context(services.stream(export, gl_accounts=current_config().gl_accounts)),
        # As the format names it: given as `mimetype`, Werkzeug appended a second
        # "; charset=utf-8" to the CSV's "text/csv; charset=utf-8".
        content_type=export.format.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(utcnow())}"',
            "Cache-Control": "no-store",
            "X-Export-Schema-Version": str(export.dataset.schema_version),
        },
    )


def _filter_words(dataset: base.Dataset) -> tuple[list[str], list[str], list[str]]:
    """A dataset's dates, filters and states as the form says them (its labels, in
    the form's order, and its options' words), for the page's table of datasets."""
    return (
        [_option_words("by", basis) for basis in dataset.date_bases],
        [label for name, label in FIELD_LABELS.items() if name in dataset.filters],
        [_option_words("state", state) for state in dataset.states],
    )


def _page(errors: dict[str, list[str]], status: int) -> tuple[str, int]:
    datasets = base.all_datasets()
    states = sorted({state for dataset in datasets.values() for state in dataset.states})
    return render_template(
        "console/exports.html",
        datasets=datasets,
        dataset_words={name: _filter_words(dataset) for name, dataset in datasets.items()},
        # Round 44: why each dataset does not take a field, as the server refuses it;
        # js/export-choices.js disables the field with this note beside it.
        not_taken={
            name: {
                field: filters.not_taken_sentence(dataset, field, PAGE_WORDS)
                for field in filters.not_taken(dataset)
            }
            for name, dataset in datasets.items()
        },
        formats=[(name, FORMAT_LABELS.get(name, name)) for name in FORMATS],
        organizations=queries.organization_choices(db.session()),
        state_options=[(state, _option_words("state", state)) for state in states],
        currency_options=[(code, code) for code in sorted(CURRENCIES)],
        date_bases=list(DATE_BASIS_LABELS.items()),
        use_options=[(use, use_words(use)) for use in USES],
        # Round 60: the Finance page's kinds and classification (invoice lines only).
        classified_options={
            name: [(value, _option_words(name, value)) for value in values]
            for name, values in filters.CLASSIFIED_VALUES.items()
        },
        values=request.args,
        errors=errors,
        labels=FIELD_LABELS,
    ), status
