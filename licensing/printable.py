"""What the documents can print: the characters of the scripts their fonts draw, and
the words that refuse the rest (round 55).

An agreement, an invoice, a statement or a letter prints a licensee's, a signer's, a
product's or a requester's name as typed, in DejaVu Sans (Latin, Greek, Cyrillic,
Hebrew, Arabic, ...), the viewer's standard CJK fonts (Chinese, Japanese, Korean) or
the Noto Sans face of its script (Thai and the scripts of India and Sri Lanka), all
in `licensing/pdf.py`. A character none of them draws would print as an empty box,
so the forms and the API refuse it where it is typed (`unprintable`,
`unprintable_problem`), naming it. Pure: the standard library only (and the written-out
tables of `licensing.cjk_signs`), no font is read here (`PRINTED` is the fonts' coverage,
written out; a test reads it again from the font files, `tests/support/printable_table.py`).
"""

from __future__ import annotations

import bisect
import re
import unicodedata

from licensing import cjk_signs


def _merged(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """`ranges` of code points (first, last) as the fewest ranges, in order."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((first, last) for first, last in merged)


# The blocks of the CJK scripts, their punctuation and full- and half-width forms (the
# Basic Multilingual Plane only: the CID fonts' UCS-2 encodings end there), drawn in
# the standard Adobe CID fonts a viewer supplies (docs/pdfs.md).
CJK_BLOCKS = (
    "\u1100-\u11ff\u2e80-\u2fdf\u2ff0-\u33ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)

# Hangul, within those blocks: drawn in the Korean CID font (HYGothic-Medium), whose
# encoding the PDF names (`UniKS-UCS2-H`, Adobe-Korea1 supplement 1) and a viewer
# follows to the glyph. It maps every precomposed syllable and the compatibility jamo,
# and nothing of the conjoining jamo (U+1100-11FF, A960-A97F, D7B0-D7FF) or the
# half-width forms (U+FFA0-FFDC), which a viewer draws as an empty box (round 56).
HANGUL_BLOCKS = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7ff\uffa0-\uffdc"
# What of `HANGUL_BLOCKS` the Korean encoding maps to a glyph, as (first, last) code
# points: written out from the CMap file (poppler-data's, Adobe's) by
# `tests/support/printable_table.py`, which a test reads again.
KOREAN_ENCODED: tuple[tuple[int, int], ...] = ((0x3131, 0x318E), (0xAC00, 0xD7A3))

# The Han ideographs (unified, extension A, compatibility), within the CJK blocks: each
# drawn in the CID font of its text (Korean, Japanese or Chinese: `pdf._han_font`), or
# where that font's encoding does not map it, in one whose does (`pdf.font_runs`,
# round 57). An ideograph none of the encodings maps is drawn as an empty box.
HAN_BLOCKS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# What of `HAN_BLOCKS` the Chinese (`UniGB-UCS2-H`), Japanese (`UniJIS-UCS2-H`) or
# Korean (`UniKS-UCS2-H`) encoding maps to a glyph, as (first, last) code points:
# written out from the CMap files by `tests/support/printable_table.py`, which a test
# reads again. 27,785 of the 28,056 (Unicode 14); the 271 others are U+4DB6-4DBF and
# U+9FA6-9FFF, added to Unicode after the CMaps, and the compatibility ideographs
# U+FA0C and U+FA2E-FAD9.
HAN_ENCODED: tuple[tuple[int, int], ...] = (
    (0x3400, 0x4DB5),
    (0x4E00, 0x9FA5),
    (0xF900, 0xFA0B),
    (0xFA0D, 0xFA2D),
)

# The rest of the CJK blocks, neither Han nor hangul (punctuation, symbols, kana,
# bopomofo, radicals, enclosed and compatibility forms, full- and half-width forms: the
# "signs"), each drawn in the CID font of its text, or where that font's encoding does
# not map it, in one whose does (pdffonts59). What of them the Chinese, Japanese or
# Korean encoding maps to a glyph, as (first, last) code points: the union of
# `licensing.cjk_signs`' tables (written out from the CMap files, plain data), which a
# test reads again. 1,205 characters; the 248 others no encoding maps (among them the
# white square brackets U+301A-301B and white parentheses U+FF5F-FF60, U+303D, U+30A0,
# the Ainu small katakana U+31F0-31FF, the combining voiced sound marks U+3099-309A, the
# half-width arrows U+FFE9-FFEC, the vertical forms U+FE45-FE48) would draw an empty box.
SIGNS_ENCODED = _merged((*cjk_signs.CHINESE, *cjk_signs.JAPANESE, *cjk_signs.KOREAN))

# Each script shaped by HarfBuzz in a Noto Sans face of its own (`licensing/fonts/`,
# `NotoSans<Script>-Regular.ttf` and `-Bold.ttf`), with its blocks: a character of
# those blocks is drawn in that face.
SHAPED_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("NotoSansDevanagari", "\u0900-\u097f\ua8e0-\ua8ff"),
    ("NotoSansBengali", "\u0980-\u09ff"),
    ("NotoSansGurmukhi", "\u0a00-\u0a7f"),
    ("NotoSansGujarati", "\u0a80-\u0aff"),
    ("NotoSansOriya", "\u0b00-\u0b7f"),
    ("NotoSansTamil", "\u0b80-\u0bff"),
    ("NotoSansTelugu", "\u0c00-\u0c7f"),
    ("NotoSansKannada", "\u0c80-\u0cff"),
    ("NotoSansMalayalam", "\u0d00-\u0d7f"),
    ("NotoSansSinhala", "\u0d80-\u0dff"),
    ("NotoSansThai", "\u0e00-\u0e7f"),
)
SHAPED_BLOCKS = "".join(blocks for _, blocks in SHAPED_SCRIPTS)
_SHAPED = [(re.compile(f"[{blocks}]"), face) for face, blocks in SHAPED_SCRIPTS]
_IN_SHAPED = re.compile(f"[{SHAPED_BLOCKS}]")
_CJK = re.compile(f"[{CJK_BLOCKS}]")
_HANGUL = re.compile(f"[{HANGUL_BLOCKS}]")
_HAN = re.compile(f"[{HAN_BLOCKS}]")

# The scripts a reader is told the documents print, in the refusal.
PRINTED_SCRIPTS = (
    "Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew, Arabic, Chinese, Japanese, "
    "Korean, Thai, Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, "
    "Kannada, Malayalam and Sinhala"
)


def shaped_face(character: str) -> str | None:
    """The Noto Sans face that draws `character` (a shaped script's), else None."""
    if _IN_SHAPED.match(character) is None:
        return None
    return next(face for pattern, face in _SHAPED if pattern.match(character))


def _printed(code: int) -> bool:
    index = bisect.bisect_right(_FIRSTS, code) - 1
    return index >= 0 and code <= PRINTED[index][1]


def _drawn_in_cjk_font(character: str) -> bool:
    """Whether a viewer's CJK font draws `character` (of `CJK_BLOCKS`): hangul only
    where the Korean encoding maps it (`KOREAN_ENCODED`), a Han ideograph only where
    one of the encodings does (`HAN_ENCODED`), any other sign too (`SIGNS_ENCODED`:
    until pdffonts59 every sign was taken to be drawn)."""
    code = ord(character)
    if _HAN.match(character) is not None:
        ranges = HAN_ENCODED
    elif _HANGUL.match(character) is not None:
        ranges = KOREAN_ENCODED
    else:
        ranges = SIGNS_ENCODED
    return any(first <= code <= last for first, last in ranges)


def unprintable(value: str) -> str:
    """The characters of `value` no document's font draws, each once, in the order
    typed; "" when every one prints. Control characters (line breaks, tabs) are left
    to the fields' own checks. ASCII text takes one check."""
    if value.isascii():
        return ""
    found = {
        character: None
        for character in value
        if not character.isascii()
        and not (
            _drawn_in_cjk_font(character)
            if _CJK.match(character) is not None
            else _printed(ord(character))
        )
        and unicodedata.category(character) != "Cc"
    }
    return "".join(found)


_NAMED = 5  # characters named in a refusal; the rest are counted


def named(character: str) -> str:
    """The character with its code point and name, as a refusal names it: the
    character itself may not show in the reader's browser or terminal either."""
    name = unicodedata.name(character, "")
    return f"{character} (U+{ord(character):04X}" + (f" {name})" if name else ")")


def composed(text: str) -> str:
    """`text` with what was typed decomposed composed, as Unicode's NFC composes it, and
    nothing else changed (kana60): a kana and the combining voiced or semi-voiced mark
    after it (か U+304B, U+3099, as macOS file names and some input methods send it) as
    the one voiced kana (が U+304C), conjoining hangul jamo as their syllable, a Latin
    letter and its combining accents as the accented letter, marks in their canonical
    order. A character NFC replaces on its own, though nothing was decomposed, is kept
    as typed: a CJK compatibility ideograph (樂 U+F914, a Korean reading's, stays itself,
    not U+6A02), the ångström and ohm signs, Devanagari's precomposed क़ (U+0958), so
    nothing changes that the reader would not see as the same thing typed otherwise.
    ASCII text, and any text already composed, take one check and are returned as they
    are. Applied where text enters the service (`licensing.limits`: forms, query strings
    and JSON bodies; a royalty report's rows), never to what is stored."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    pieces: list[str] = []
    start = 0
    for index, character in enumerate(text):
        if unicodedata.normalize("NFC", character) != character:
            pieces += (unicodedata.normalize("NFC", text[start:index]), character)
            start = index + 1
    pieces.append(unicodedata.normalize("NFC", text[start:]))
    return "".join(pieces)


# The combining voiced and semi-voiced sound marks: what composing cannot join to the
# character before them (あ U+3099: no voiced あ) is refused, and the refusal says how.
_KANA_MARKS = "\u3099\u309a"
_KANA_MARKS_HINT = (
    " The combining voiced sound marks join only a kana that has a voiced or semi-voiced "
    "form (か and U+3099 make が, は and U+309A make ぱ): type that kana itself."
)


def unprintable_problem(value: str) -> str | None:
    """The refusal of a text our documents could not print (the field's message, on
    the form and in the API's problem), naming the characters; None when it prints."""
    characters = unprintable(value)
    if not characters:
        return None
    return (
        f"Our documents cannot print {_listed(characters)}: the agreement, invoices and "
        f"letters would show an empty box. Write it in a script they print ({PRINTED_SCRIPTS})."
    ) + (_KANA_MARKS_HINT if any(mark in characters for mark in _KANA_MARKS) else "")


def stored_unprintable_problem(value: str) -> str | None:
    """The refusal of a field sent back as it was stored, saved before round 55
    refused what no font draws (round 56): said so, since the reader typed nothing
    in it, and what to do to save the rest; None when it prints."""
    characters = unprintable(value)
    if not characters:
        return None
    return (
        f"Saved before our documents were checked: they cannot print "
        f"{_listed(characters)} (the agreement, invoices and letters would show an empty "
        f"box), so nothing is saved until this field is written again in a script they "
        f"print ({PRINTED_SCRIPTS})."
    )


def _listed(characters: str) -> str:
    """The first characters named (`named`), the rest counted."""
    names = [named(character) for character in characters[:_NAMED]]
    more = len(characters) - _NAMED
    return (
        ", ".join(names) + f" and {more} more"
        if more > 0
        else names[0]
        if len(names) == 1
        else ", ".join(names[:-1]) + " or " + names[-1]
    )


# Written out from the font files by `tests/support/printable_table.py` (a test checks
# it against them): every character DejaVu Sans draws in both its regular and bold
# face outside the blocks above, and every character of a shaped script's blocks its
# Noto face draws, as (first, last) code points.
PRINTED: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),
    (0x00A0, 0x02E9),
    (0x02EC, 0x02EE),
    (0x02F3, 0x02F3),
    (0x02F7, 0x02F7),
    (0x0300, 0x034F),
    (0x0351, 0x0353),
    (0x0357, 0x0358),
    (0x035A, 0x035A),
    (0x035C, 0x0362),
    (0x0370, 0x0377),
    (0x037A, 0x037F),
    (0x0384, 0x038A),
    (0x038C, 0x038C),
    (0x038E, 0x03A1),
    (0x03A3, 0x0525),
    (0x0531, 0x0556),
    (0x0559, 0x055F),
    (0x0561, 0x0587),
    (0x0589, 0x058A),
    (0x05B0, 0x05C3),
    (0x05C6, 0x05C7),
    (0x05D0, 0x05EA),
    (0x05F0, 0x05F4),
    (0x0606, 0x0607),
    (0x0609, 0x060A),
    (0x060C, 0x060C),
    (0x0615, 0x0615),
    (0x061B, 0x061B),
    (0x061F, 0x061F),
    (0x0621, 0x063A),
    (0x0640, 0x0655),
    (0x0657, 0x0657),
    (0x065A, 0x065A),
    (0x0660, 0x0670),
    (0x0674, 0x0674),
    (0x0679, 0x06BF),
    (0x06C6, 0x06C8),
    (0x06CB, 0x06CC),
    (0x06CE, 0x06CE),
    (0x06D0, 0x06D0),
    (0x06D5, 0x06D5),
    (0x06F0, 0x06F9),
    (0x07C0, 0x07E7),
    (0x07EB, 0x07F5),
    (0x07F8, 0x07FA),
    (0x0900, 0x0983),
    (0x0985, 0x098C),
    (0x098F, 0x0990),
    (0x0993, 0x09A8),
    (0x09AA, 0x09B0),
    (0x09B2, 0x09B2),
    (0x09B6, 0x09B9),
    (0x09BC, 0x09C4),
    (0x09C7, 0x09C8),
    (0x09CB, 0x09CE),
    (0x09D7, 0x09D7),
    (0x09DC, 0x09DD),
    (0x09DF, 0x09E3),
    (0x09E6, 0x09FE),
    (0x0A01, 0x0A03),
    (0x0A05, 0x0A0A),
    (0x0A0F, 0x0A10),
    (0x0A13, 0x0A28),
    (0x0A2A, 0x0A30),
    (0x0A32, 0x0A33),
    (0x0A35, 0x0A36),
    (0x0A38, 0x0A39),
    (0x0A3C, 0x0A3C),
    (0x0A3E, 0x0A42),
    (0x0A47, 0x0A48),
    (0x0A4B, 0x0A4D),
    (0x0A51, 0x0A51),
    (0x0A59, 0x0A5C),
    (0x0A5E, 0x0A5E),
    (0x0A66, 0x0A76),
    (0x0A81, 0x0A83),
    (0x0A85, 0x0A8D),
    (0x0A8F, 0x0A91),
    (0x0A93, 0x0AA8),
    (0x0AAA, 0x0AB0),
    (0x0AB2, 0x0AB3),
    (0x0AB5, 0x0AB9),
    (0x0ABC, 0x0AC5),
    (0x0AC7, 0x0AC9),
    (0x0ACB, 0x0ACD),
    (0x0AD0, 0x0AD0),
    (0x0AE0, 0x0AE3),
    (0x0AE6, 0x0AF1),
    (0x0AF9, 0x0AFF),
    (0x0B01, 0x0B03),
    (0x0B05, 0x0B0C),
    (0x0B0F, 0x0B10),
    (0x0B13, 0x0B28),
    (0x0B2A, 0x0B30),
    (0x0B32, 0x0B33),
    (0x0B35, 0x0B39),
    (0x0B3C, 0x0B44),
    (0x0B47, 0x0B48),
    (0x0B4B, 0x0B4D),
    (0x0B56, 0x0B57),
    (0x0B5C, 0x0B5D),
    (0x0B5F, 0x0B63),
    (0x0B66, 0x0B77),
    (0x0B82, 0x0B83),
    (0x0B85, 0x0B8A),
    (0x0B8E, 0x0B90),
    (0x0B92, 0x0B95),
    (0x0B99, 0x0B9A),
    (0x0B9C, 0x0B9C),
    (0x0B9E, 0x0B9F),
    (0x0BA3, 0x0BA4),
    (0x0BA8, 0x0BAA),
    (0x0BAE, 0x0BB9),
    (0x0BBE, 0x0BC2),
    (0x0BC6, 0x0BC8),
    (0x0BCA, 0x0BCD),
    (0x0BD0, 0x0BD0),
    (0x0BD7, 0x0BD7),
    (0x0BE6, 0x0BFA),
    (0x0C00, 0x0C0C),
    (0x0C0E, 0x0C10),
    (0x0C12, 0x0C28),
    (0x0C2A, 0x0C39),
    (0x0C3D, 0x0C44),
    (0x0C46, 0x0C48),
    (0x0C4A, 0x0C4D),
    (0x0C55, 0x0C56),
    (0x0C58, 0x0C5A),
    (0x0C60, 0x0C63),
    (0x0C66, 0x0C6F),
    (0x0C77, 0x0C8C),
    (0x0C8E, 0x0C90),
    (0x0C92, 0x0CA8),
    (0x0CAA, 0x0CB3),
    (0x0CB5, 0x0CB9),
    (0x0CBC, 0x0CC4),
    (0x0CC6, 0x0CC8),
    (0x0CCA, 0x0CCD),
    (0x0CD5, 0x0CD6),
    (0x0CDE, 0x0CDE),
    (0x0CE0, 0x0CE3),
    (0x0CE6, 0x0CEF),
    (0x0CF1, 0x0CF2),
    (0x0D00, 0x0D0C),
    (0x0D0E, 0x0D10),
    (0x0D12, 0x0D44),
    (0x0D46, 0x0D48),
    (0x0D4A, 0x0D4F),
    (0x0D54, 0x0D63),
    (0x0D66, 0x0D7F),
    (0x0D81, 0x0D83),
    (0x0D85, 0x0D96),
    (0x0D9A, 0x0DB1),
    (0x0DB3, 0x0DBB),
    (0x0DBD, 0x0DBD),
    (0x0DC0, 0x0DC6),
    (0x0DCA, 0x0DCA),
    (0x0DCF, 0x0DD4),
    (0x0DD6, 0x0DD6),
    (0x0DD8, 0x0DDF),
    (0x0DE6, 0x0DEF),
    (0x0DF2, 0x0DF4),
    (0x0E01, 0x0E3A),
    (0x0E3F, 0x0E5B),
    (0x0E81, 0x0E82),
    (0x0E84, 0x0E84),
    (0x0E87, 0x0E88),
    (0x0E8A, 0x0E8A),
    (0x0E8D, 0x0E8D),
    (0x0E94, 0x0E97),
    (0x0E99, 0x0E9F),
    (0x0EA1, 0x0EA3),
    (0x0EA5, 0x0EA5),
    (0x0EA7, 0x0EA7),
    (0x0EAA, 0x0EAB),
    (0x0EAD, 0x0EB9),
    (0x0EBB, 0x0EBD),
    (0x0EC0, 0x0EC4),
    (0x0EC6, 0x0EC6),
    (0x0EC8, 0x0ECD),
    (0x0ED0, 0x0ED9),
    (0x0EDC, 0x0EDD),
    (0x10A0, 0x10C5),
    (0x10D0, 0x10FC),
    (0x1401, 0x1407),
    (0x1409, 0x141B),
    (0x141D, 0x1435),
    (0x1437, 0x144A),
    (0x144C, 0x1452),
    (0x1454, 0x14BD),
    (0x14C0, 0x14EA),
    (0x14EC, 0x1507),
    (0x1510, 0x153E),
    (0x1540, 0x1550),
    (0x1552, 0x156A),
    (0x1574, 0x1585),
    (0x158A, 0x1596),
    (0x15A0, 0x15AF),
    (0x15DE, 0x15DE),
    (0x15E1, 0x15E1),
    (0x1646, 0x1647),
    (0x166E, 0x1676),
    (0x1680, 0x169C),
    (0x1D00, 0x1D14),
    (0x1D16, 0x1D23),
    (0x1D26, 0x1D2E),
    (0x1D30, 0x1D5B),
    (0x1D5D, 0x1D6A),
    (0x1D77, 0x1D78),
    (0x1D7B, 0x1D7B),
    (0x1D7D, 0x1D7D),
    (0x1D85, 0x1D85),
    (0x1D9B, 0x1DBF),
    (0x1DC4, 0x1DC9),
    (0x1E00, 0x1EFB),
    (0x1F00, 0x1F15),
    (0x1F18, 0x1F1D),
    (0x1F20, 0x1F45),
    (0x1F48, 0x1F4D),
    (0x1F50, 0x1F57),
    (0x1F59, 0x1F59),
    (0x1F5B, 0x1F5B),
    (0x1F5D, 0x1F5D),
    (0x1F5F, 0x1F7D),
    (0x1F80, 0x1FB4),
    (0x1FB6, 0x1FC4),
    (0x1FC6, 0x1FD3),
    (0x1FD6, 0x1FDB),
    (0x1FDD, 0x1FEF),
    (0x1FF2, 0x1FF4),
    (0x1FF6, 0x1FFE),
    (0x2000, 0x2064),
    (0x206A, 0x2071),
    (0x2074, 0x208E),
    (0x2090, 0x209C),
    (0x20A0, 0x20B5),
    (0x20B8, 0x20BA),
    (0x20BD, 0x20BD),
    (0x20D0, 0x20D1),
    (0x20D6, 0x20D7),
    (0x20DB, 0x20DC),
    (0x20E1, 0x20E1),
    (0x2100, 0x2109),
    (0x210B, 0x2149),
    (0x214B, 0x214B),
    (0x214E, 0x214E),
    (0x2150, 0x2185),
    (0x2189, 0x2189),
    (0x2190, 0x2311),
    (0x2318, 0x2319),
    (0x231C, 0x2321),
    (0x2324, 0x2328),
    (0x232B, 0x232C),
    (0x2373, 0x2375),
    (0x237A, 0x237A),
    (0x237D, 0x237D),
    (0x2387, 0x2387),
    (0x2394, 0x2394),
    (0x239B, 0x23AE),
    (0x23CE, 0x23CF),
    (0x23E3, 0x23E3),
    (0x23E5, 0x23E5),
    (0x23E8, 0x23E8),
    (0x2422, 0x2423),
    (0x2460, 0x2469),
    (0x2500, 0x269C),
    (0x269E, 0x26B8),
    (0x26C0, 0x26C3),
    (0x26E2, 0x26E2),
    (0x2701, 0x2704),
    (0x2706, 0x2709),
    (0x270C, 0x2727),
    (0x2729, 0x274B),
    (0x274D, 0x274D),
    (0x274F, 0x2752),
    (0x2756, 0x2756),
    (0x2758, 0x275E),
    (0x2761, 0x2794),
    (0x2798, 0x27AF),
    (0x27B1, 0x27BE),
    (0x27C5, 0x27C6),
    (0x27E0, 0x27E0),
    (0x27E6, 0x27EB),
    (0x27F0, 0x28FF),
    (0x2906, 0x2907),
    (0x290A, 0x290B),
    (0x2940, 0x2941),
    (0x2983, 0x2984),
    (0x29CE, 0x29D5),
    (0x29EB, 0x29EB),
    (0x29FA, 0x29FB),
    (0x2A00, 0x2A02),
    (0x2A0C, 0x2A1C),
    (0x2A2F, 0x2A2F),
    (0x2A6A, 0x2A6B),
    (0x2A7D, 0x2AA0),
    (0x2AAE, 0x2ABA),
    (0x2AF9, 0x2AFA),
    (0x2B00, 0x2B1A),
    (0x2B1F, 0x2B24),
    (0x2B53, 0x2B54),
    (0x2C60, 0x2C77),
    (0x2C79, 0x2C7F),
    (0x2D00, 0x2D25),
    (0x2D30, 0x2D65),
    (0x2D6F, 0x2D6F),
    (0x2E18, 0x2E18),
    (0x2E1F, 0x2E1F),
    (0x2E22, 0x2E25),
    (0x2E2E, 0x2E2E),
    (0x4DC0, 0x4DFF),
    (0xA4D0, 0xA4FF),
    (0xA644, 0xA647),
    (0xA64C, 0xA64D),
    (0xA650, 0xA651),
    (0xA654, 0xA657),
    (0xA662, 0xA66E),
    (0xA68A, 0xA68D),
    (0xA694, 0xA695),
    (0xA698, 0xA699),
    (0xA708, 0xA716),
    (0xA71B, 0xA71F),
    (0xA722, 0xA72B),
    (0xA730, 0xA741),
    (0xA746, 0xA74B),
    (0xA74E, 0xA753),
    (0xA756, 0xA757),
    (0xA764, 0xA767),
    (0xA780, 0xA783),
    (0xA789, 0xA78E),
    (0xA790, 0xA791),
    (0xA7A0, 0xA7AA),
    (0xA7F8, 0xA7FF),
    (0xA8E0, 0xA8FF),
    (0xEF00, 0xEF19),
    (0xF400, 0xF426),
    (0xF428, 0xF441),
    (0xF6C5, 0xF6C5),
    (0xFB00, 0xFB06),
    (0xFB13, 0xFB17),
    (0xFB1D, 0xFB36),
    (0xFB38, 0xFB3C),
    (0xFB3E, 0xFB3E),
    (0xFB40, 0xFB41),
    (0xFB43, 0xFB44),
    (0xFB46, 0xFB4F),
    (0xFB52, 0xFBA3),
    (0xFBAA, 0xFBAD),
    (0xFBD3, 0xFBDC),
    (0xFBDE, 0xFBDF),
    (0xFBE4, 0xFBE9),
    (0xFBFC, 0xFBFF),
    (0xFE00, 0xFE0F),
    (0xFE20, 0xFE23),
    (0xFE70, 0xFE74),
    (0xFE76, 0xFEFC),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFD),
    (0x10300, 0x1031E),
    (0x10320, 0x10323),
    (0x1D300, 0x1D356),
    (0x1D538, 0x1D539),
    (0x1D53B, 0x1D53E),
    (0x1D540, 0x1D544),
    (0x1D546, 0x1D546),
    (0x1D54A, 0x1D550),
    (0x1D552, 0x1D56B),
    (0x1D7D8, 0x1D7E1),
    (0x1F030, 0x1F093),
    (0x1F0A0, 0x1F0AE),
    (0x1F0B1, 0x1F0BE),
    (0x1F0C1, 0x1F0CF),
    (0x1F0D1, 0x1F0DF),
    (0x1F311, 0x1F318),
    (0x1F42D, 0x1F42E),
    (0x1F431, 0x1F431),
    (0x1F435, 0x1F435),
    (0x1F600, 0x1F623),
    (0x1F625, 0x1F62B),
    (0x1F62D, 0x1F640),
    (0x1F643, 0x1F643),
)
_FIRSTS = [first for first, _ in PRINTED]
