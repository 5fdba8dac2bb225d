"""`licensing audit verify`: check that the audit log and issued documents are intact."""

from __future__ import annotations

from collections.abc import Sequence

import click
from flask.cli import with_appcontext

from licensing import db
from licensing.audit.seals import seal_unsealed, verify_documents
from licensing.audit.services import verify_chain
from licensing.options import whole_number_option


@click.command("verify")
@whole_number_option(
    "--accept-unkeyed-until",
    at_least=0,
    default=0,
    help="Accept rows up to this seq without an audit key (written before the chain was "
    "keyed, in a database upgraded from then); note the seq when you upgrade.",
)
@with_appcontext
def verify(accept_unkeyed_until: int) -> None:
    """Recompute the keyed hash chain, every issued invoice's, credit note's,
    agreement's and permission letter's digests and seal, and every kept invoice
    and credit note PDF's SHA-256 and seal (round 47); exit 1 and list each
    problem if any row was edited, deleted or reordered."""
    session = db.session()
    chain = verify_chain(session, unkeyed_until=accept_unkeyed_until)
    documents = verify_documents(session)
    legacy = f", {chain.unkeyed} from before the chain was keyed" if chain.unkeyed else ""
    _verdict(
        chain.problems,
        f"Audit log intact: {chain.events} events{legacy}, chain head at seq {chain.head_seq}.",
        f"Audit log BROKEN: {len(chain.problems)} problem(s) in {chain.events} events:",
    )
    _verdict(
        documents.problems,
        f"Issued documents intact: {documents.documents} checked, "
        f"{documents.kept} kept PDF(s) hashed again.",
        # Kept PDFs are counted apart from the documents, as the intact line says:
        # "6 of 4" read as more problems than documents (round 60).
        f"Issued documents TAMPERED: {len(documents.problems)} problem(s) in "
        f"{documents.documents} document(s) and {documents.kept} kept PDF(s):",
    )
    if not (chain.ok and documents.ok):
        raise SystemExit(1)


def _verdict(problems: Sequence[str], intact: str, broken: str) -> None:
    """One check's line on standard output, or its problems listed on standard error."""
    if not problems:
        click.echo(intact)
        return
    click.echo(broken, err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)


@click.command("seal-unsealed")
@with_appcontext
def seal_unsealed_command() -> None:
    """Seal issued documents that have no seal (issued before sealing existed), and
    kept PDFs that have none (kept before billing_0019, round 47). Run once, right
    after upgrading: it trusts each as it is then."""
    sealed, refused = seal_unsealed()
    click.echo(f"Sealed {len(sealed)} document(s).")
    for name in sealed:
        click.echo(f"  - {name}")
    if refused:
        click.echo(
            f"Left unsealed, their PDF no longer matches its SHA-256: {', '.join(refused)}",
            err=True,
        )
        raise SystemExit(1)
