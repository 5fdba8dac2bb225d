"""kana60: a kana typed decomposed (か followed by the combining voiced sound mark
U+3099, as macOS file names and some input methods send it) was refused where typed
(pdffonts59 refused U+3099, which no CID font draws). Text entering the service is
now composed as Unicode's NFC composes it (`printable.composed`): the voiced kana,
hangul syllables from conjoining jamo, accented Latin letters; a character NFC would
replace on its own (a CJK compatibility ideograph, the ångström sign) is kept as typed,
and a mark nothing composes with is still refused, saying how to type the kana.
The pages' and API's paths are in tests/integration/test_decomposed_text_composed.py."""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal

import pytest

from licensing import limits, printable
from licensing.royalties.rows import CSV_HEADER, Problems, Row, Upload, csv_submission
from licensing.royalties.services.filing import _check_rows
from tests.support.reportable_lines import reportable_line

VOICED, SEMI_VOICED = "\u3099", "\u309a"  # the combining marks


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("テスト" + "ハ" + SEMI_VOICED + "ーク", "テストパーク"),  # パ
        ("か" + VOICED + "っこう", "がっこう"),
        ("シ" + VOICED + "ェイソン", "ジェイソン"),
        ("\u1112\u1161\u11ab\u1100\u1173\u11af", "한글"),  # conjoining jamo: 한글
        ("\u1109\u1165\u110b\u116e\u11af 테스트", "서울 테스트"),
        ("Cafe\u0301 Zu\u0308rich", "Café Zürich"),
        ("a\u0302\u0323", "ậ"),  # marks in their canonical order, then composed
        ("Ñandu\u0301 S.A.", "Ñandú S.A."),  # a composed letter beside, unchanged
    ],
)
def test_text_typed_decomposed_is_stored_composed(typed: str, stored: str) -> None:
    assert printable.composed(typed) == stored
    assert printable.composed(typed) == unicodedata.normalize("NFC", typed)
    assert printable.unprintable(printable.composed(typed)) == ""


@pytest.mark.parametrize(
    "typed",
    [
        "樂天 \uf914 테스트",  # U+F914, a Korean reading's compatibility ideograph (NFC: U+6A02)
        "\u212b Angstrom Ltd",  # the ångström sign (NFC: Å U+00C5)
        "\u2126 Ohm GmbH",  # the ohm sign (NFC: Ω U+03A9)
        "\u0958 \u0915\u093c",  # Devanagari's precomposed क़, and the one typed apart
    ],
)
def test_a_character_nfc_would_replace_on_its_own_is_kept_as_typed(typed: str) -> None:
    assert unicodedata.normalize("NFC", typed) != typed
    assert printable.composed(typed) == typed


def test_a_kana_beside_such_a_character_is_still_composed() -> None:
    assert printable.composed("\uf914か" + VOICED) == "\uf914が"


def test_text_already_composed_is_returned_as_it_is() -> None:
    for text in ("Acme Ltd", "株式会社テスト", "Zoë Łódź", "한글"):
        assert printable.composed(text) is text


@pytest.mark.parametrize("typed", ["あ" + VOICED, "A" + VOICED, "ン" + SEMI_VOICED])
def test_a_mark_nothing_composes_with_is_refused_saying_how_to_type_the_kana(typed: str) -> None:
    assert printable.composed(typed) == typed
    problem = printable.unprintable_problem(printable.composed(typed))
    assert problem is not None
    assert problem.startswith("Our documents cannot print ")
    assert "COMBINING KATAKANA-HIRAGANA" in problem
    assert "join only a kana that has a voiced or semi-voiced form" in problem


def test_another_refusal_says_nothing_of_kana() -> None:
    problem = printable.unprintable_problem("\u12a0")  # Ethiopic
    assert problem is not None
    assert "kana" not in problem


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "utf-8"])
def test_a_json_bodys_strings_are_composed_but_a_password(ensure_ascii: bool) -> None:
    typed = "か" + VOICED
    body = {
        "name": typed,
        "uses": [{"product_name": f"テスト{typed}", "languages": ["ja", typed]}],
        "password": typed * 6,
        "new_password": typed * 6,
        "count": 3,
        "amount": 1.5,
    }
    loaded = limits.loads(json.dumps(body, ensure_ascii=ensure_ascii))
    assert loaded["name"] == "が"
    assert loaded["uses"] == [{"product_name": "テストが", "languages": ["ja", "が"]}]
    assert loaded["password"] == loaded["new_password"] == typed * 6
    assert (loaded["count"], loaded["amount"]) == (3, Decimal("1.5"))


def test_a_body_whose_first_escape_is_not_u_still_has_its_escaped_kana_composed() -> None:
    # Round 64: `loads` looks for a backslash before it looks for "\\u"; an ASCII
    # body whose escapes begin with a quote or a newline is still read for "\\u".
    text = '{"note": "say \\"hi\\"\\n", "name": "\\u304b\\u3099"}'
    assert text.isascii()
    assert text.index("\\u") > text.index("\\")
    assert limits.loads(text) == {"note": 'say "hi"\n', "name": "が"}


LINES = {1: reportable_line(1, ("end_users",), False)}


class _Kept:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        self.rows.append(row)


def test_a_royalty_reports_customer_typed_decomposed_is_stored_composed_and_the_same() -> None:
    from licensing.errors import InvalidInput

    decomposed = "カ" + VOICED + "ク"
    kept = _Kept()
    body = f"1,{decomposed}-1,{decomposed}エン,JP,end_users,5,\n1,B,Clinic B,US,end_users,1,\n"
    upload = Upload.of_bytes((CSV_HEADER + "\n" + body).encode())
    submission = csv_submission(upload, attest=True, amends=None, reason=None)
    _check_rows(submission, LINES, Problems(), {}, kept)
    assert [(row.customer_id, row.customer_name) for row in kept.rows] == [
        ("ガク-1", "ガクエン"),
        ("B", "Clinic B"),
    ]
    # Typed composed in one row and decomposed in another: the same customer twice.
    twice = f"1,ガク-1,A,JP,end_users,5,\n1,{decomposed}-1,A,JP,end_users,1,\n"
    upload = Upload.of_bytes((CSV_HEADER + "\n" + twice).encode())
    with pytest.raises(InvalidInput) as refused:
        _check_rows(
            csv_submission(upload, attest=True, amends=None, reason=None),
            LINES,
            Problems(),
            {},
            _Kept(),
        )
    assert "rows.3.customer_id" in refused.value.errors
