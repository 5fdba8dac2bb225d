"""Bodies a client might send, read as the quote API reads a plain body, are
priced and written in one pass exactly as the general path prices and writes them."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from hypothesis import given, settings

from licensing.api.quotes import plain_request
from licensing.pricing import QuoteInputError, parse_rate_card, price, price_text
from tests.support.quote_bodies import bodies

SAMPLE = parse_rate_card(
    json.loads(resources.files("licensing.ratecards").joinpath("samples/2027.1.json").read_text())
)


def _answered(write: Any) -> Any:
    try:
        return write()
    except QuoteInputError as error:
        return ("refused", error.errors)


@settings(max_examples=300)
@given(bodies())
def test_a_plain_body_is_answered_in_one_pass_as_the_general_path_answers_it(body: Any) -> None:
    request = plain_request(body)
    if request is None:
        return
    general = _answered(
        lambda: (
            json.dumps(
                price(SAMPLE, request, breakdowns=False).to_contract_dict(),
                sort_keys=True,
                separators=(",", ":"),
            )
            + "\n"
        )
    )
    assert _answered(lambda: price_text(SAMPLE, request)) == general
