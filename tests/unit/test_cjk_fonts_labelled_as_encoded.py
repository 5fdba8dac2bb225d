"""fonts58: reportlab wrote its Traditional Chinese font (`MSung-Light`, drawn for a
text with bopomofo) with the Chinese encoding `UniGB-UCS2-H`, whose CIDs are Adobe-GB1's,
but labelled its CIDFont Adobe-CNS1: a viewer going by the label drew other characters
(臺灣測試 as 揄棱唰惎), and poppler refused the font, so the name was neither drawn nor
copied. It labelled `STSong-Light` Adobe-GB1 supplement 0 and `HeiseiKakuGo-W5`
Adobe-Japan1 supplement 2, where their encodings give CIDs up to supplement 4. Now
Chinese, Traditional too, is drawn in `STSong-Light`, each CID font is labelled with
the collection its encoding's CMap names, and every name copies as typed."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable

import pytest
from pypdf import PdfReader

from licensing import pdf, printable
from tests.support import hard_documents
from tests.support.glyphs import standard_cid_fonts
from tests.support.printable_table import CMAPS, cids, cmap_text

# The last CID of each supplement of each collection (Adobe's technical notes on
# Adobe-GB1, Adobe-Japan1 and Adobe-Korea1): a font labelled with a supplement holds
# the CIDs up to its last.
LAST_CID = {
    "GB1": (7716, 9896, 22126, 22352, 29063, 30283),
    "Japan1": (8283, 8358, 8719, 9353, 15443, 20316, 23057, 23059),
    "Korea1": (9332, 18154, 18351),
}

# Invented names, each with common characters and rare ones: CIDs of a later supplement
# (龘 GB1 2, 㛃 GB1 4, 髙 Japan1 2, 亍 Japan1 4, 똠 Korea1 1), bopomofo (Taiwan), a
# Hanja the Korean encoding does not map (亍, drawn in the Chinese font: round 57).
NAMES = {
    "Traditional Chinese": "臺灣測試股份有限公司 ㄅㄆ 陳鑫龘",
    "Simplified Chinese": "北京测试有限公司 王㛃",
    "Japanese": "株式会社テスト 髙橋亍",
    "Korean": "金亍洙 테스트 주식회사 똠",
}


def _cid_fonts(data: bytes) -> dict[str, tuple[str, str, str, int]]:
    """Each Type 0 font of the document: its encoding and its CIDFont's label."""
    found = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for reference in page["/Resources"]["/Font"].values():
            font = reference.get_object()
            if font["/Subtype"] == "/Type0":
                system = font["/DescendantFonts"][0].get_object()["/CIDSystemInfo"]
                found[str(font["/BaseFont"])[1:]] = (
                    str(font["/Encoding"])[1:],
                    str(system["/Registry"]),
                    str(system["/Ordering"]),
                    int(system["/Supplement"]),
                )
    return found


def _labelled(cmap: str) -> tuple[str, str, int]:
    """The collection a CMap file names: (registry, ordering, supplement)."""
    found = re.search(
        r"/Registry \((\w+)\) def\s+/Ordering \((\w+)\) def\s+/Supplement (\d+) def",
        cmap_text(next(CMAPS.glob(f"*/{cmap}"))),
    )
    assert found is not None
    return found[1], found[2], int(found[3])


def test_each_cid_font_is_labelled_with_the_collection_its_encoding_gives_cids_of() -> None:
    data = pdf.build(
        [pdf.para(name) for name in NAMES.values()], pdf.PageFurniture("Names"), title="Names"
    )
    fonts = _cid_fonts(data)
    assert fonts == {
        "STSong-Light": ("UniGB-UCS2-H", "Adobe", "GB1", 4),
        "HeiseiKakuGo-W5": ("UniJIS-UCS2-H", "Adobe", "Japan1", 4),
        "HYGothic-Medium": ("UniKS-UCS2-H", "Adobe", "Korea1", 1),
    }
    cjk = re.compile(f"[{printable.CJK_BLOCKS}]")
    for encoding, registry, ordering, supplement in fonts.values():
        # The label is the CMap's own, and its supplement is the first that holds every
        # CID the CMap gives a character of the CJK blocks (what `pdf.font_runs` gives a
        # CID font), where reportlab's held 7,281 of the 28,260 Chinese ones.
        assert _labelled(encoding) == (registry, ordering, supplement)
        mapped = cids(next(CMAPS.glob(f"*/{encoding}")))
        drawn = max(cid for code, cid in mapped.items() if cjk.match(chr(code)))
        assert LAST_CID[ordering][supplement - 1] < drawn <= LAST_CID[ordering][supplement]


def test_text_with_bopomofo_is_drawn_in_the_chinese_font_and_nothing_is_labelled_cns1() -> None:
    name = NAMES["Traditional Chinese"]
    assert pdf.font_runs(name) == [
        (pdf.CJK_SIMPLIFIED_CHINESE, "臺灣測試股份有限公司"),
        (None, " "),
        (pdf.CJK_SIMPLIFIED_CHINESE, "ㄅㄆ"),
        (None, " "),
        (pdf.CJK_SIMPLIFIED_CHINESE, "陳鑫龘"),
    ]
    data = pdf.build(
        [pdf.para(f"Licensee: {name}"), pdf.table([["Name", name]], [100, 300])],
        pdf.PageFurniture(name),
        title="Names",
    )
    assert standard_cid_fonts(data) == {pdf.CJK_SIMPLIFIED_CHINESE: "GB1"}
    assert b"MSung" not in data
    assert b"CNS1" not in data


def _copied(data: bytes) -> str:
    """The document's text as poppler's `pdftotext` extracts it (as a viewer copies
    it), its whitespace made single spaces; poppler must have complained of nothing
    (it refused `MSung-Light`: "Unknown CMap 'UniGB-UCS2-H' for character collection
    'Adobe-CNS1'")."""
    done = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    assert done.stderr == b""
    return " ".join(done.stdout.decode().split())


DOCUMENTS: dict[str, Callable[..., bytes]] = {
    "agreement": hard_documents.agreement,
    "grant letter": hard_documents.grant_letter,
    "denial letter": hard_documents.denial_letter,
}


@pytest.mark.parametrize("script", sorted(NAMES))
@pytest.mark.parametrize("kind", sorted(DOCUMENTS))
def test_every_name_is_copied_from_an_agreement_and_a_letter_as_typed(
    kind: str, script: str
) -> None:
    name = NAMES[script]
    copied = _copied(DOCUMENTS[kind](hard=True, name=name))
    assert copied.count(name) >= 2, copied[:400]  # a heading or address, and the body
