"""pdffonts59: every PDF the service drew named Helvetica, not embedded (`pdffonts` listed
it first in each): reportlab's canvas starts every page in its initial font,
`rl_config.canvas_basefontname`, and the monthly report's charts start in the graphics'
default, Helvetica too. No text was drawn in it, but a viewer had to supply a font the
document named, and a check for embedded fonts (PDF/A, a printer's preflight) failed.
Now the canvas and the charts start in DejaVu Sans (`initialFontName`), and a document
names only the fonts it draws: DejaVu Sans and the Noto faces, embedded as subsets, and
for Chinese, Japanese and Korean the standard CID fonts the viewer supplies, which are
left unembedded by design (docs/pdfs.md)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest
from pypdf import PdfReader

from licensing import pdf
from licensing.billing import documents as billing
from tests.support import hard_documents

# The standard CJK CID fonts a document names without embedding them (the viewer's),
# each with its predefined encoding: the only fonts a document may leave unembedded.
VIEWERS_CJK_FONTS = {
    pdf.CJK_JAPANESE: "UniJIS-UCS2-H",
    pdf.CJK_KOREAN: "UniKS-UCS2-H",
    pdf.CJK_SIMPLIFIED_CHINESE: "UniGB-UCS2-H",
}

# Invented names in every script the documents draw: each brings its own font.
NAMES = {
    "Latin, Greek and Cyrillic": hard_documents.LEGAL_NAME,
    "Hebrew": "חברת בדיקה בע״מ",
    "Arabic": "شركة الاختبار",
    "Thai": "บริษัท ทดสอบ จำกัด",
    "Devanagari": "परीक्षण प्राइवेट लिमिटेड",
    "Tamil": "சோதனை நிறுவனம்",
    "Japanese": "株式会社テスト 東京支店",
    "Korean": "테스트 주식회사",
    "Chinese": "北京测试有限公司",
}


def _invoice_in(state: str) -> Callable[..., bytes]:
    def render(*, hard: bool, name: str) -> bytes:
        document = replace(
            hard_documents._invoice_document(hard=hard, name=name),
            state=state,
            paid_on=date(2027, 1, 20) if state == billing.PAID else None,
        )
        return billing.render_invoice_pdf(document)

    return render


# Every kind of document, the invoice in each of its looks (the paid one is the
# licensee's receipt, stamped PAID; the void one stamped VOID).
KINDS: dict[str, Callable[..., bytes]] = {
    **hard_documents.DOCUMENTS,
    "paid invoice": _invoice_in(billing.PAID),
    "void invoice": _invoice_in(billing.VOID),
}


def pdffonts(data: bytes) -> list[tuple[str, str, str, bool]]:
    """Each font the document names as poppler's `pdffonts` lists it: its name, type,
    encoding and whether it is embedded."""
    try:
        done = subprocess.run(["pdffonts", "-"], input=data, capture_output=True, check=True)
    except FileNotFoundError as missing:
        needed = "pdffonts is missing: install poppler-utils (.ci/run does)"
        raise AssertionError(needed) from missing
    lines = done.stdout.decode().splitlines()
    assert len(lines) >= 2, lines
    assert lines[0].split()[:4] == ["name", "type", "encoding", "emb"], lines
    # Columns are fixed width: name 36, type 17, encoding 16, then emb.
    found = []
    for line in lines[2:]:
        name, kind, encoding = line[:36].strip(), line[37:54].strip(), line[55:71].strip()
        embedded = line[72:75].strip()
        assert embedded in ("yes", "no"), line
        found.append((name, kind, encoding, embedded == "yes"))
    return found


def unembedded_by_pypdf(data: bytes) -> set[str]:
    """The fonts of the pages with no font file (read apart from poppler, with pypdf):
    a standard Type 1 font has no descriptor at all; a Type 0 font's is its CIDFont's."""
    found = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for reference in page["/Resources"]["/Font"].values():
            font = reference.get_object()
            described = font
            if font["/Subtype"] == "/Type0":
                described = font["/DescendantFonts"][0].get_object()
            descriptor = described.get("/FontDescriptor")
            files = set(descriptor.get_object()) if descriptor is not None else set()
            if not {"/FontFile", "/FontFile2", "/FontFile3"} & files:
                found.add(str(font["/BaseFont"]).lstrip("/"))
    return found


@pytest.mark.parametrize("hard", [False, True], ids=["ordinary", "hard"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_of_document_embeds_every_font_it_names(kind: str, hard: bool) -> None:
    data = KINDS[kind](hard=hard, name=hard_documents.LEGAL_NAME)
    fonts = pdffonts(data)
    assert fonts, "pdffonts listed no font"
    assert [font for font in fonts if not font[3]] == []
    assert unembedded_by_pypdf(data) == set()
    # Only DejaVu Sans, as subsets (pdffonts names a subset "ABCDEF+DejaVuSans").
    assert {name.split("+", 1)[1] for name, *_ in fonts} <= {"DejaVuSans", "DejaVuSans-Bold"}
    assert all(type_ == "TrueType" for _, type_, _, _ in fonts)


@pytest.mark.parametrize("script", list(NAMES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_document_in_any_script_leaves_only_the_viewers_cjk_fonts_unembedded(
    kind: str, script: str
) -> None:
    data = KINDS[kind](hard=True, name=NAMES[script])
    fonts = pdffonts(data)
    unembedded = {(name, type_, encoding) for name, type_, encoding, kept in fonts if not kept}
    assert {name for name, *_ in unembedded} == unembedded_by_pypdf(data)
    assert unembedded <= {
        (font, "CID Type 0", encoding) for font, encoding in VIEWERS_CJK_FONTS.items()
    }
    cjk = script in ("Japanese", "Korean", "Chinese")
    assert bool(unembedded) is cjk
    embedded = {name.split("+", 1)[1] for name, _, _, embedded in fonts if embedded}
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= embedded


def test_a_page_of_text_drawn_straight_on_the_canvas_starts_in_dejavu_sans() -> None:
    """The canvas's first font, before anything sets one, is ours: text a flowable draws
    without choosing a font is drawn in DejaVu Sans, embedded, not reportlab's Helvetica."""
    from reportlab.platypus import Flowable

    class Unstyled(Flowable):
        def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
            return 100, 20

        def draw(self) -> None:
            self.canv.drawString(0, 0, "Drawn in the canvas's first font")

    data = pdf.build([Unstyled()], pdf.PageFurniture("Unstyled"), title="Unstyled")
    assert {name.split("+", 1)[1] for name, *_ in pdffonts(data)} == {"DejaVuSans"}
    assert unembedded_by_pypdf(data) == set()
    assert "Drawn in the canvas's first font" in PdfReader(io.BytesIO(data)).pages[0].extract_text()
