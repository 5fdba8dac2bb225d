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


# The CID fonts' encodings, as Debian's poppler-data (0.4.12) installs them (Adobe's
# CMaps): what a viewer maps each character of a run in that font to (round 56: the
# Korean; round 57: the Chinese and Japanese). Read where poppler reads them, rather
# than from copies of our own (fonts58): `pdftotext` needs the package to read CJK
# text at all, and `.ci/run` installs it.
CMAPS = Path("/usr/share/poppler/cMap")
KOREAN_CMAP = CMAPS / "Adobe-Korea1" / "UniKS-UCS2-H"
CHINESE_CMAP = CMAPS / "Adobe-GB1" / "UniGB-UCS2-H"
JAPANESE_CMAP = CMAPS / "Adobe-Japan1" / "UniJIS-UCS2-H"


def cmap_text(cmap: Path) -> str:
    """The CMap file `cmap`, failing with what to install when it is missing."""
    assert cmap.is_file(), f"{cmap} is missing: install Debian's poppler-data (.ci/run does)"
    return cmap.read_text("latin-1")


def cids(cmap: Path) -> dict[int, int]:
    """Each character `cmap` maps to a glyph, with its CID (other than 0, `.notdef`)."""
    text = cmap_text(cmap)
    cids: dict[int, int] = {}
    for block in re.findall(r"begincidrange(.*?)endcidrange", text, re.S):
        for first, last, cid in re.findall(r"<([0-9a-f]+)>\s*<([0-9a-f]+)>\s*(\d+)", block, re.I):
            for code in range(int(first, 16), int(last, 16) + 1):
                cids[code] = int(cid) + code - int(first, 16)
    for block in re.findall(r"begincidchar(.*?)endcidchar", text, re.S):
        for code, cid in re.findall(r"<([0-9a-f]+)>\s*(\d+)", block, re.I):
            cids[int(code, 16)] = int(cid)
    return {code: cid for code, cid in cids.items() if cid}


def encoded(cmap: Path) -> set[int]:
    """The characters `cmap` maps to a glyph (a CID other than 0, `.notdef`)."""
    return set(cids(cmap))


def _ranges(codes: set[int]) -> tuple[tuple[int, int], ...]:
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return tuple((first, last) for first, last in ranges)


def korean_encoded_ranges() -> tuple[tuple[int, int], ...]:
    """The characters of `printable.HANGUL_BLOCKS` that the Korean encoding maps to a
    glyph, as ranges (first, last): what `licensing.printable.KOREAN_ENCODED` must hold."""
    hangul = re.compile(f"[{printable.HANGUL_BLOCKS}]")
    return _ranges({code for code in encoded(KOREAN_CMAP) if hangul.match(chr(code))})


def han_encoded(cmap: Path) -> set[int]:
    """The Han ideographs (`printable.HAN_BLOCKS`) `cmap` maps to a glyph."""
    han = re.compile(f"[{printable.HAN_BLOCKS}]")
    return {code for code in encoded(cmap) if han.match(chr(code))}


def han_encoded_ranges() -> tuple[tuple[int, int], ...]:
    """The Han ideographs some CID font's encoding maps (the Chinese, the Japanese or
    the Korean), as ranges: what `licensing.printable.HAN_ENCODED` must hold."""
    cmaps = (CHINESE_CMAP, JAPANESE_CMAP, KOREAN_CMAP)
    return _ranges(set().union(*(han_encoded(cmap) for cmap in cmaps)))


def chinese_han_ranges() -> tuple[tuple[int, int], ...]:
    """What `licensing.han_encoded.CHINESE` must hold."""
    return _ranges(han_encoded(CHINESE_CMAP))


def written_out(cmap: Path) -> str:
    """The ideographs `cmap` maps, in code point order, as `licensing.han_encoded`
    writes them (`KOREAN`, `JAPANESE`)."""
    return "".join(map(chr, sorted(han_encoded(cmap))))


def signs_encoded(cmap: Path) -> set[int]:
    """The characters of the CJK blocks other than Han ideographs and hangul (punctuation,
    symbols, kana, bopomofo, radicals, full- and half-width forms) `cmap` maps to a glyph
    (pdffonts59)."""
    cjk = re.compile(f"[{printable.CJK_BLOCKS}]")
    others = re.compile(f"[{printable.HAN_BLOCKS}{printable.HANGUL_BLOCKS}]")
    return {
        code
        for code in encoded(cmap)
        if cjk.match(chr(code)) is not None and others.match(chr(code)) is None
    }


def signs_encoded_ranges(cmap: Path) -> tuple[tuple[int, int], ...]:
    """What `licensing.cjk_signs.CHINESE`, `JAPANESE` and `KOREAN` must hold."""
    return _ranges(signs_encoded(cmap))


def any_signs_encoded_ranges() -> tuple[tuple[int, int], ...]:
    """The signs some CID font's encoding maps: what `licensing.printable.SIGNS_ENCODED`
    must hold."""
    cmaps = (CHINESE_CMAP, JAPANESE_CMAP, KOREAN_CMAP)
    return _ranges(set().union(*(signs_encoded(cmap) for cmap in cmaps)))
