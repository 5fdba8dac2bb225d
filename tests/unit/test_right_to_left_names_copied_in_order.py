"""A right-to-left name copied out of every kind of document comes back in the order
typed, with the punctuation and brackets of our sentence beside it where they were
typed (round 61, bidi61). Read with poppler's `pdftotext`, as a reader's copy and
most text extraction read a drawn line: left to right, turning each run from a
right-to-left letter round. Before, "Royalty, line 2 (مترجم الرموز; rule translation)"
copied as "( ;مترجم الرموز rule", and "grants מתרגם of" as "grants  מתרגםof".

The names are invented. The text is compared in Unicode's compatibility form (Arabic
is drawn in its joined forms) without the invisible marks of direction: the
embedding marks pdftotext puts round a right-to-left run, and the LRM and RLM the
documents draw for it."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import replace
from decimal import Decimal

import pytest

from licensing import pdf
from licensing.agreements.documents import render_agreement_pdf
from licensing.billing import documents as billing
from tests.support import hard_documents

NAMES = {"Arabic": "مترجم الرموز", "Hebrew": "מתרגם הקודים בע״מ"}
_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def copied(data: bytes) -> str:
    """The document's text as pdftotext gives it, in one line, compared as above."""
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    return " ".join(_MARKS.sub("", unicodedata.normalize("NFKC", text)).split())


def _agreement(name: str) -> bytes:
    document = hard_documents.agreement_document(hard=False)
    use = replace(document.uses[0], product=name, rule="translation")
    return render_agreement_pdf(
        replace(document, licensee=replace(document.licensee, name=name), uses=(use, use))
    )


def _invoice(name: str) -> bytes:
    document = hard_documents._invoice_document(hard=False)
    line = billing.DocumentLine(
        f"Royalty, line 2 ({name}; rule translation)", "4 languages", "8900.00", ours=True
    )
    return billing.render_invoice_pdf(
        replace(document, bill_to=(name, "12 Elm Street"), lines=(line,))
    )


def _statement(name: str) -> bytes:
    statement = hard_documents.statement_of(3, name, Decimal("1200.00"))
    return billing.render_statement_pdf(statement, issuer="CPT Licensing Office|1 Example Plaza")


# Each kind of document, and what its text must say with the name in it.
DOCUMENTS = {
    "agreement": (
        _agreement,
        (
            "1. {name} (rule translation)",
            "2. {name} (rule translation)",
            "authorised to bind {name} accepts it online.",
        ),
    ),
    "invoice": (_invoice, ("Royalty, line 2 ({name}; rule translation)",)),
    "credit note": (
        lambda name: hard_documents.credit_note(hard=True, name=name),
        ("{name} Ulica",),
    ),
    "statement of account": (
        _statement,
        (
            "{name}, January 1, 2027 to December 31, 2027 (USD)",
            "{name}: statement January 1, 2027 to December 31, 2027, USD",
        ),
    ),
    "monthly report": (
        lambda name: hard_documents.monthly_report(hard=True, name=name),
        ("{name} ",),
    ),
    "grant letter": (
        lambda name: hard_documents.grant_letter(hard=True, name=name),
        ("Dear {name},", "grants {name} of {name} a non-exclusive"),
    ),
    "denial letter": (
        lambda name: hard_documents.denial_letter(hard=True, name=name),
        ("Dear {name},",),
    ),
}


@pytest.mark.parametrize("script", NAMES)
@pytest.mark.parametrize("kind", DOCUMENTS)
def test_a_right_to_left_name_copies_in_the_order_typed_with_its_punctuation_beside_it(
    kind: str, script: str
) -> None:
    name = NAMES[script]
    render, sentences = DOCUMENTS[kind]
    text = copied(render(name))
    for sentence in sentences:
        assert sentence.format(name=name) in text, (sentence, text[:600])


@pytest.mark.parametrize("name", NAMES.values())
def test_brackets_and_a_semicolon_after_a_name_copy_after_it_in_every_path(name: str) -> None:
    """A plain paragraph, our markup in bold, a table cell and the running header."""
    data = pdf.build(
        [
            pdf.para(f"Royalty, line 2 ({name}; rule translation)"),
            pdf.markup(f"<b>2. {pdf.text(pdf.isolated(name))}</b> (rule translation)"),
            pdf.table(
                [["Product", f"{pdf.isolated(name)} (hosted)"]], [150.0, 354.0], header=False
            ),
        ],
        pdf.PageFurniture(f"Statement of {pdf.isolated(name)}: 2027"),
        title="Names",
    )
    text = copied(data)
    assert f"Royalty, line 2 ({name}; rule translation)" in text
    assert f"2. {name} (rule translation)" in text
    assert f"Product {name} (hosted)" in text
    assert f"Statement of {name}: 2027" in text


def test_a_name_alone_in_its_direction_copies_as_typed_and_draws_no_mark() -> None:
    """A right-to-left line that needs no mark gets none: a name of letters and
    spaces alone in its cell."""
    name = NAMES["Hebrew"]
    assert pdf.displayed(name) == name[::-1]
    assert name in copied(pdf.build([pdf.para(name)], pdf.PageFurniture("Names"), title="Names"))


def test_the_marks_go_where_a_reader_of_the_drawn_line_needs_them() -> None:
    """An LRM after a run followed by punctuation, none before a left-to-right
    letter; an RLM before a run that begins with a bracket drawn mirrored."""
    name = NAMES["Hebrew"]
    assert pdf.displayed(f"Dear {pdf.isolated(name)},") == f"Dear {name[::-1]}\u200e,"
    assert pdf.displayed(f"{pdf.isolated(name)} accepts") == f"{name[::-1]}\u200e accepts"
    assert pdf.displayed(f"Of {name}x") == f"Of {name[::-1]}x"
    assert pdf.displayed("(שלום)").startswith("\u200f(")


def test_a_latin_document_draws_no_mark() -> None:
    for kind, render in hard_documents.DOCUMENTS.items():
        for hard in (False, True):
            assert "\u200e" not in copied(render(hard=hard)), kind
