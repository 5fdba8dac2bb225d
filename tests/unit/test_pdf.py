"""The shared PDF furniture: page numbers, references, deterministic bytes."""

from __future__ import annotations

import io

from pypdf import PdfReader
from reportlab.platypus import PageBreak

from licensing import pdf


def _story(pages: int) -> list:  # type: ignore[type-arg]
    story = []
    for number in range(pages):
        story.append(pdf.para(f"Section {number + 1}: Façade & Co. <b>not bold</b> © ®", "Heading"))
        if number < pages - 1:
            story.append(PageBreak())
    return story


def test_every_page_says_page_n_of_m_and_carries_the_reference() -> None:
    data = pdf.build(_story(3), pdf.PageFurniture("Agreement CPT-2027-000001"), title="Test")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 3
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Page {number} of 3" in text
        assert "Agreement CPT-2027-000001" in text


def test_user_text_is_escaped_not_interpreted_as_markup() -> None:
    data = pdf.build(_story(1), pdf.PageFurniture("X"), title="Test")
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Façade & Co. <b>not bold</b> © ®" in text


def test_the_same_content_gives_the_same_bytes() -> None:
    first = pdf.build(_story(2), pdf.PageFurniture("X"), title="Test")
    second = pdf.build(_story(2), pdf.PageFurniture("X"), title="Test")
    assert first == second
