"""Where a PDF's text lies on its pages, read back with pypdf's visitor: each run of
text shown, its page, its baseline and where it begins and ends, so a test can say
without eyes that nothing runs off the page or into other text (round 54)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics

from licensing import pdf

# The margins every document keeps (`licensing.pdf`): 0.75 in at the sides.
SIDE_MARGIN = 0.75 * inch
# Rounding in the operators and in reportlab's widths (points).
_TOLERANCE = 0.5


@dataclass(frozen=True)
class Run:
    page: int  # from 1
    text: str
    left: float
    right: float
    baseline: float


def _font_name(font: Any) -> str | None:
    """Our registered font for a page font (its subset prefix dropped); None for
    a CID font, which the viewer supplies."""
    base = str(font.get("/BaseFont", "")).lstrip("/").split("+")[-1]
    ours = (pdf.FONT, pdf.FONT_BOLD, pdf.FONT_ITALIC, pdf.FONT_BOLD_ITALIC)
    return base if base in ours or base in pdfmetrics.standardFonts else None


def runs(data: bytes) -> list[Run]:
    """Every run of text the pages show, in the order they show it."""
    pdf.register_fonts(oblique=True)  # measured as drawn
    found: list[Run] = []
    for number, page in enumerate(PdfReader(io.BytesIO(data)).pages, start=1):

        def visit(text: str, cm: Any, tm: Any, font: Any, size: float, page: int = number) -> None:
            if not text.strip() or font is None:
                return
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = math.hypot(tm[0], tm[1]) * math.hypot(cm[0], cm[1])
            name = _font_name(font)
            shown = text.rstrip("\n")
            if name is None:  # a CID font: a full em a character
                width = len(shown) * size * scale
            else:
                width = pdfmetrics.stringWidth(shown, name, size * scale)
            last = found[-1] if found else None
            if last and (last.page, last.left, last.baseline) == (page, x, y):
                # pypdf gives a run after a change of font in one line the line's
                # matrix: it begins where the one before it ended.
                x = last.right
            found.append(Run(page, shown, x, x + width, y))

        page.extract_text(visitor_text=visit)
    return found


def outside_the_margins(data: bytes, page_width: float = 612.0) -> list[Run]:
    """The runs that begin left of the left margin or end right of the right one."""
    left, right = SIDE_MARGIN - _TOLERANCE, page_width - SIDE_MARGIN + _TOLERANCE
    return [run for run in runs(data) if run.left < left or run.right > right]


def overlapping(data: bytes) -> list[tuple[Run, Run]]:
    """Pairs of runs on one baseline of one page whose extents overlap."""
    pairs = []
    shown = runs(data)
    for index, first in enumerate(shown):
        for second in shown[index + 1 :]:
            if (
                first.page == second.page
                and abs(first.baseline - second.baseline) < 1
                and first.left < second.right - _TOLERANCE
                and second.left < first.right - _TOLERANCE
            ):
                pairs.append((first, second))
    return pairs
