"""The quote API's answer priced and written in one pass (`price_text`) is, byte
for byte, the general path's: `price` then the contract body as Flask's compact,
sorted, ASCII JSON provider writes it; and a request it cannot price is refused
with the very same errors."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from licensing.pricing import (
    ProposedUse,
    QuoteInputError,
    QuoteRequest,
    RateCard,
    Term,
    contract_json,
    parse_rate_card,
    price,
    price_text,
)
from licensing.pricing.quote import _WRITERS_KEPT, _priced_card, _write_in_one_pass
from tests.support.generated_quotes import cards, invented_document, request_for

# Text JSON must escape, and text only an ASCII-only writer escapes.
ODD_TEXT = 'Lehrmaterial «für» Schulen — "quoted", back\\slash, tab\t, 漢字, 🙃'


ODD_UNIT = f"seats {ODD_TEXT}"


def _odd_card() -> RateCard:
    """The invented card with the odd text wherever a card's own words reach a
    line: a unit name, an adjustment id, a rule id, a routed rule's description."""
    document = copy.deepcopy(invented_document("USD", "2028-12-31", "odd.1"))
    document["adjustments"][0]["id"] = f"academic {ODD_TEXT}"
    document["rules"][0]["description"] = ODD_TEXT
    document["rules"][1]["id"] = f"capped {ODD_TEXT}"
    document["rules"][1]["model"]["unit"] = ODD_UNIT
    return parse_rate_card(document)


def _odd_request(card: RateCard, seed: int) -> QuoteRequest:
    """`request_for`, counting seats under the odd card's unit name."""
    request = request_for(card, seed)
    uses = tuple(
        replace(
            use,
            quantity={
                ODD_UNIT if unit == "seats" else unit: count for unit, count in use.quantity.items()
            },
        )
        for use in request.uses
    )
    return replace(request, uses=uses)


def _general(card: RateCard, request: QuoteRequest) -> Any:
    """What the general path answers: jsonify's text of the contract body, or the errors."""
    try:
        body = price(card, request, breakdowns=False).to_contract_dict()
    except QuoteInputError as error:
        return ("refused", error.errors)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def _one_pass(card: RateCard, request: QuoteRequest) -> Any:
    try:
        return price_text(card, request)
    except QuoteInputError as error:
        return ("refused", error.errors)


def test_every_generated_request_is_answered_in_one_pass_as_the_general_path_answers_it() -> None:
    generated = [
        (card, request_for(card, seed)) for card in cards().values() for seed in range(400)
    ]
    odd = _odd_card()
    generated += [(odd, _odd_request(odd, seed)) for seed in range(400)]
    written = refused = 0
    texts = []
    for card, request in generated:
        answer = _one_pass(card, request)
        assert answer == _general(card, request), request
        if isinstance(answer, tuple):
            refused += 1
            continue
        texts.append(answer)
        if _write_in_one_pass(card, request) is not None:
            written += 1
    # Most valid requests took the one pass; every kind of line was written.
    assert written > 0.8 * len(texts)
    assert refused > 0
    bodies = [json.loads(text) for text in texts]
    lines = [line for body in bodies for line in body["lines"]]
    assert {body["currency"] for body in bodies} == {"USD", "JPY", "KWD"}
    assert {line["route"] for line in lines} == {"license", "permission_request"}
    assert any(line["amount"] is None and line["rule"] is None for line in lines)
    steps = [step for line in lines for step in line["explanation"] if ODD_TEXT in step]
    assert any(ODD_UNIT in step for step in steps)
    assert any(step.startswith(f"adjustment academic {ODD_TEXT}") for step in steps)
    assert any(line["rule"] == f"capped {ODD_TEXT}" for line in lines)


def test_a_request_the_one_pass_leaves_is_still_answered_in_full() -> None:
    card = cards()["sample"]
    for seed in range(400):
        request = request_for(card, seed)
        if _write_in_one_pass(card, request) is None:
            try:
                quote = price(card, request, breakdowns=False)
            except QuoteInputError:
                continue
            # A valid request the one pass leaves: languages counted from the list.
            assert price_text(card, request) == contract_json(quote)
            return
    raise AssertionError("no valid request was left to the general path")


def test_the_line_writers_kept_on_a_card_are_bounded_and_past_the_bound_still_write() -> None:
    card = cards()["sample"]
    use = ProposedUse("distribution", "saas", "provider", {"end_users": 250})
    compiled = _priced_card(card)
    for days in range(1, _WRITERS_KEPT + 41):  # a term length each: more than are kept
        term = Term(card.effective_from, card.effective_from + timedelta(days=days - 1))
        request = QuoteRequest("commercial", term, (use,))
        assert _one_pass(card, request) == _general(card, request)
    assert len(compiled._writers) == _WRITERS_KEPT
