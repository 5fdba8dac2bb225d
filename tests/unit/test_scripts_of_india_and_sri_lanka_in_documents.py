"""Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam and Sinhala
in documents (round 55): before, DejaVu Sans drew them as empty boxes; now each is
drawn in its Noto Sans face, embedded and shaped by HarfBuzz as Devanagari is, in
paragraphs, table cells, bold markup and the running header and footer."""

from __future__ import annotations

import unicodedata

import pytest

from licensing import pdf
from licensing.accounts.models import LEGAL_NAME_MAX
from tests.support.glyphs import fonts_drawing, glyphs_drawn
from tests.support.hard_documents import DOCUMENTS, filled
from tests.support.pdf_pages import outside_the_margins

# Invented names, each with a conjunct or a joiner its script writes.
NAMES = {
    "NotoSansBengali": "বাংলা সফটওয়্যার প্রাইভেট লিমিটেড",
    "NotoSansGurmukhi": "ਪੰਜਾਬ ਸਾਫਟਵੇਅਰ ਪ੍ਰਾਈਵੇਟ ਲਿਮਟਿਡ",
    "NotoSansGujarati": "ગુજરાત સોફ્ટવેર પ્રાઇવેટ લિમિટેડ",
    "NotoSansOriya": "ଓଡ଼ିଶା ସଫ୍ଟୱେର ପ୍ରାଇଭେଟ ଲିମିଟେଡ",
    "NotoSansTamil": "தமிழ் மென்பொருள் நிறுவனம்",
    "NotoSansTelugu": "తెలుగు సాఫ్ట్‌వేర్ ప్రైవేట్ లిమిటెడ్",
    "NotoSansKannada": "ಕನ್ನಡ ಸಾಫ್ಟ್‌ವೇರ್ ಪ್ರೈವೇಟ್ ಲಿಮಿಟೆಡ್",
    "NotoSansMalayalam": "മലയാളം സോഫ്റ്റ്‌വെയർ ലിമിറ്റഡ്",
    "NotoSansSinhala": "ශ්‍රී ලංකා මෘදුකාංග සමාගම",
}
_JOINERS = {"\u200c", "\u200d"}


def _document(name: str) -> bytes:
    story = [
        pdf.para(name, "Title"),
        pdf.para(f"Licensee: {name} (Chennai)"),
        pdf.table([["Licensee", "Amount"], [name, "1,200.00"]], [300.0, 204.0], right_columns=(1,)),
        pdf.markup(f"<b>{pdf.text(name)}</b>", "Cell"),
    ]
    furniture = pdf.PageFurniture(reference=f"Agreement {name}", issuer=name, footer_note=name)
    return pdf.build(story, furniture, title="Names")


def _ours(text: str) -> bool:
    return any("\u0980" <= character <= "\u0dff" for character in text)


@pytest.mark.parametrize("face", list(NAMES))
def test_every_letter_of_the_name_is_drawn_with_a_glyph_of_its_own(face: str) -> None:
    drawn = glyphs_drawn(_document(NAMES[face]))
    ours = {text: glyphs for text, glyphs in drawn.items() if _ours(text)}
    assert {text for text, glyphs in ours.items() if glyphs & {".notdef", "empty"}} == set()
    # (NFKD: a two-part vowel sign, as Tamil's ொ, is drawn as its two parts.)
    typed = set(unicodedata.normalize("NFKD", NAMES[face])) - {" "} - _JOINERS
    assert typed <= set(unicodedata.normalize("NFKD", "".join(ours)))


@pytest.mark.parametrize("face", list(NAMES))
def test_the_name_is_drawn_in_its_own_noto_face_bold_where_the_style_is(face: str) -> None:
    drawn = fonts_drawing(_document(NAMES[face]))
    faces = {each for text, fonts in drawn.items() if _ours(text) for each in fonts}
    assert faces == {f"{face}-Regular", f"{face}-Bold"}


def test_a_conjunct_is_one_glyph_and_a_joiner_keeps_the_cluster_in_one_run() -> None:
    # Bengali's প্র and Sinhala's ශ්‍රී (its rakaransaya written with a zero-width
    # joiner) are shaped as clusters: one glyph for প with র, one for ්‍ර, not a
    # letter, a virama and a letter side by side. (The text each glyph copies as is
    # what the font's substitutions make it of: প্র copies as পর্.)
    bengali = glyphs_drawn(_document(NAMES["NotoSansBengali"]))
    assert any("প" in text and "র" in text for text in bengali)
    sinhala = glyphs_drawn(_document(NAMES["NotoSansSinhala"]))
    assert "\u0dca\u200d\u0dbb" in sinhala
    assert [font for font, _ in pdf.font_runs("ශ්\u200dරී")] == ["NotoSansSinhala"]


@pytest.mark.parametrize("face", ["NotoSansBengali", "NotoSansTamil", "NotoSansSinhala"])
@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_a_name_at_the_forms_limit_stays_inside_the_margins(kind: str, face: str) -> None:
    data = DOCUMENTS[kind](hard=True, name=filled(NAMES[face], LEGAL_NAME_MAX))
    assert outside_the_margins(data) == []
