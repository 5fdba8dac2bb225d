"""The characters the documents' embedded fonts draw, read from the font files with
fontTools: what `licensing.printable.PRINTED` must hold (round 55)."""

from __future__ import annotations

import re
from pathlib import Path

from fontTools.ttLib import TTFont

from licensing import printable

FONTS = Path(printable.__file__).parent / "fonts"


def _characters(path: Path) -> set[int]:
    return set(TTFont(str(path), lazy=True).getBestCmap())


def printed_ranges() -> tuple[tuple[int, int], ...]:
    """Every character DejaVu Sans draws in both its regular and bold face, outside the
    blocks other fonts draw (CJK: the viewer's; the shaped scripts: their Noto face),
    and every character of a shaped script's blocks its Noto face draws, regular and
    bold, as ranges (first, last)."""
    other = re.compile(f"[{printable.CJK_BLOCKS}{printable.SHAPED_BLOCKS}]")
    codes = {
        code
        for code in _characters(FONTS / "DejaVuSans.ttf")
        & _characters(FONTS / "DejaVuSans-Bold.ttf")
        if not other.match(chr(code))
    }
    for face, blocks in printable.SHAPED_SCRIPTS:
        own = re.compile(f"[{blocks}]")
        drawn = _characters(FONTS / f"{face}-Regular.ttf") & _characters(FONTS / f"{face}-Bold.ttf")
        codes |= {code for code in drawn if own.match(chr(code))}
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return tuple((first, last) for first, last in ranges)
