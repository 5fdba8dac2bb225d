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


# The Korean CID font's encoding, as poppler-data 0.4.12 ships it (Adobe's CMap,
# BSD-licensed: its notice is at the file's head): what a viewer maps each character
# of a Korean run to (round 56).
KOREAN_CMAP = Path(__file__).parent / "cmaps" / "UniKS-UCS2-H"


def korean_encoded_ranges() -> tuple[tuple[int, int], ...]:
    """The characters of `printable.HANGUL_BLOCKS` that the Korean encoding maps to a
    glyph (a CID other than 0, `.notdef`), as ranges (first, last): what
    `licensing.printable.KOREAN_ENCODED` must hold."""
    text = KOREAN_CMAP.read_text("latin-1")
    cids: dict[int, int] = {}
    for block in re.findall(r"begincidrange(.*?)endcidrange", text, re.S):
        for first, last, cid in re.findall(r"<([0-9a-f]+)>\s*<([0-9a-f]+)>\s*(\d+)", block, re.I):
            for code in range(int(first, 16), int(last, 16) + 1):
                cids[code] = int(cid) + code - int(first, 16)
    for block in re.findall(r"begincidchar(.*?)endcidchar", text, re.S):
        for code, cid in re.findall(r"<([0-9a-f]+)>\s*(\d+)", block, re.I):
            cids[int(code, 16)] = int(cid)
    hangul = re.compile(f"[{printable.HANGUL_BLOCKS}]")
    ranges: list[list[int]] = []
    for code in sorted(code for code, cid in cids.items() if cid and hangul.match(chr(code))):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return tuple((first, last) for first, last in ranges)
