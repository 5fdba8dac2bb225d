"""`licensing exports DATASET --from --to --format --output`: an export to a file.

A progress bar goes to standard error (rows written, of how many when the
dataset can count them cheaply); the file is written beside its target and
renamed into place when complete, so a failed export leaves no partial file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, BinaryIO

import click
from flask.cli import with_appcontext

from licensing.accounts.cli import organization_given
from licensing.actors import Actor, operator_login
from licensing.config import current_config
from licensing.errors import DomainError, InvalidInput
from licensing.exports import base, filters, services
from licensing.exports.formats import FORMATS
from licensing.money import format_quantity
from licensing.options import AS_TYPED


def _option(name: str) -> str:
    return f"--{name.replace('_', '-')}"


# A refusal names what the operator typed: "--to: Must be on or after --from".
CLI_WORDS = filters.Wording(field=_option)


def _problems(error: DomainError) -> str:
    if isinstance(error, InvalidInput) and error.errors:
        return "; ".join(f"{_option(k)}: {' '.join(v)}" for k, v in error.errors.items())
    return error.detail


class _Progress:
    """Rows written so far, drawn at most every few hundred rows."""

    def __init__(self, total: int | None) -> None:
        self.bar: Any = click.progressbar(
            length=total or 0, label="Exporting", file=sys.stderr, show_pos=True
        )
        self.known = total is not None
        self.rows = 0

    def __enter__(self) -> _Progress:
        if self.known:
            self.bar.__enter__()
        return self

    def step(self) -> None:
        self.rows += 1
        if self.rows % 500:
            return
        if self.known:
            self.bar.update(500)
        else:
            click.echo(f"\rExporting: {format_quantity(self.rows)} rows", file=sys.stderr, nl=False)

    def __exit__(self, *exc: object) -> None:
        if self.known:
            self.bar.update(self.rows % 500)
            self.bar.__exit__(*exc)
        else:
            click.echo(f"\rExporting: {format_quantity(self.rows)} rows", file=sys.stderr)


@click.command("exports")
@click.argument("dataset", type=click.Choice(list(base.all_datasets())))
@click.option("--from", "date_from", help="First day (ISO 8601), included.")
@click.option("--to", "date_to", help="Last day (ISO 8601), included.")
@click.option(
    "--by", help="Which date --from/--to apply to: issued, paid, period, reversed or recorded."
)
@click.option("--format", "format_name", type=click.Choice(list(FORMATS)), default="csv")
@click.option(
    "--output", "-o", type=AS_TYPED, default="-", help="File to write; '-' (default) is stdout."
)
@click.option(
    "--organization",
    metavar="ORGANIZATION",
    help="Only this organization: its legal name (any case) or its id.",
)
@click.option("--state", help="Only records in this state.")
@click.option("--currency", help="Only this currency (ISO 4217).")
@click.option("--use", help="Only lines for this use.")
@click.option(
    "--kind",
    help="invoice_lines, credit_note_lines: fee, royalty, license or other, as the Finance "
    "page counts them.",
)
@click.option(
    "--product-type", "product_type", help="invoice_lines, credit_note_lines: this product type."
)
@click.option("--user-type", "user_type", help="invoice_lines, credit_note_lines: this user type.")
@click.option(
    "--organization-type",
    "organization_type",
    help="invoice_lines, credit_note_lines: this organization type.",
)
@click.option(
    "--as-of",
    "as_of",
    help=(
        "receivables: the day balances are as of (default today); invoices: each as it "
        "stood at that day's end (round 59)."
    ),
)
@click.option(
    "--owed-back-on",
    "owed_back_on",
    help="receivables: the invoices owed a refund at the end of this day instead.",
)
@click.option(
    "--for",
    "for_email",
    metavar="EMAIL",
    help="Record the export as this billing staff member's or admin's (the one it is run "
    "for), so it is in their downloads list; default: the system's, which admins see.",
)
@with_appcontext
def exports_command(
    dataset: str,
    date_from: str | None,
    date_to: str | None,
    format_name: str,
    output: str,
    for_email: str | None,
    **filters: Any,
) -> None:
    """Export a billing dataset (audited with its filter, rows and SHA-256)."""
    _check_output(output)
    if filters.get("organization") is not None:
        filters["organization"] = str(organization_given(filters["organization"], "--organization"))
    given = {"from": date_from, "to": date_to, **filters}
    try:
        requester = services.requester_named(for_email) if for_email is not None else None
        request = services.prepare(dataset, format_name, given, words=CLI_WORDS)
        gl_accounts = current_config().gl_accounts
        total = services.count(request, gl_accounts=gl_accounts)
    except DomainError as error:
        raise click.UsageError(_problems(error)) from None
    try:
        services.check_records(request)
        _export(request, gl_accounts, total, output, requester)
    except services.CorruptRecords as error:  # no file is left (see _write_file)
        raise click.ClickException(error.detail) from None


def _check_output(output: str) -> None:
    """Refuse, before anything is exported, a target the file cannot be written
    to: a folder that does not exist, or a folder itself."""
    if output == "-":
        return
    path = Path(output)
    if path.is_dir():
        raise click.UsageError(f"--output: {path} is a folder; name the file to write.")
    if not path.parent.is_dir():
        raise click.UsageError(
            f"--output: there is no folder {path.parent}; create it first or name another file."
        )


def _export(
    request: services.ExportRequest,
    gl_accounts: Mapping[str, str],
    total: int | None,
    output: str,
    requester: Actor | None,
) -> None:
    # Run for a staff member, the record is theirs; the operator stays in the note.
    for_whom = f" for {requester.name}" if requester else ""
    note = f"licensing exports on the command line (user {operator_login()}){for_whom}"
    tally = services.Tally()
    with _Progress(total) as progress:
        stream = services.stream(
            request,
            gl_accounts=gl_accounts,
            note=note,
            on_row=progress.step,
            tally=tally,
            requester=requester,
        )
        with closing(stream) as chunks:  # audited as interrupted if writing fails
            if output == "-":
                _write(chunks, sys.stdout.buffer)
            else:
                _write_file(chunks, Path(output))
    # The counts grouped for people ("200,000 rows, 14,388,913 bytes"); the digest
    # and the file's name, what a script checks, as they were (docs/exports.md).
    click.echo(
        f"{format_quantity(tally.rows)} rows, {format_quantity(tally.bytes)} bytes, "
        f"sha256 {tally.digest.hexdigest()}" + ("" if output == "-" else f" -> {output}"),
        err=True,
    )


def _write(chunks: Any, target: BinaryIO) -> None:
    for chunk in chunks:
        target.write(chunk)
    target.flush()


def _write_file(chunks: Any, path: Path) -> None:
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("wb") as target:
            _write(chunks, target)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
