"""An up-front invoice line's description (round 38): the use as the agreement
says it, the rule's description beside its id, within what a line stores."""

from licensing.agreements.services.acceptance import _line_description
from licensing.billing.models import DESCRIPTION_MAX
from licensing.words import says_again

USE = "Develop, test, maintain or service a product; SaaS for provider users"


def test_a_line_names_its_rule_by_its_description_and_id() -> None:
    assert _line_description("Scrubber", USE, "development", "Develop a product") == (
        f"Scrubber: {USE} (Develop a product; rule development)"
    )
    assert _line_description("Scrubber", USE, "development", "") == (
        f"Scrubber: {USE} (rule development)"
    )
    assert _line_description("Scrubber", USE, None, "") == f"Scrubber: {USE}"


def test_a_line_names_the_card_of_its_rule() -> None:
    # Round 50: the finance export carries the line's description alone, and a royalty
    # line names "rule distribution-software of rate card 2027.1": so does a fee line.
    assert _line_description("Scrubber", USE, "development", "Develop", card="2027.1") == (
        f"Scrubber: {USE} (Develop; rule development of rate card 2027.1)"
    )
    assert _line_description("P" * 200, USE, "development", "d" * 500, card="2027.1") == (
        f"{'P' * 200}: {USE} (rule development of rate card 2027.1)"
    )


def test_a_rules_description_too_long_for_the_line_is_left_out_its_id_kept() -> None:
    # The line's column holds 500 characters: issuing the invoice must not fail.
    said = _line_description("P" * 200, USE, "development", "d" * DESCRIPTION_MAX)
    assert said == f"{'P' * 200}: {USE} (rule development)"
    assert len(said) <= DESCRIPTION_MAX


def test_a_rules_description_that_says_the_use_again_is_left_out_its_id_kept() -> None:
    # The sample card's development rule says the use the line has just said, with
    # "and" for the form's "or": the line said it twice.
    card_says = "Develop, test, maintain and service a product that uses CPT content"
    label = "Develop, test, maintain or service a product"
    assert _line_description("Scrubber", USE, "development", card_says, label=label) == (
        f"Scrubber: {USE} (rule development)"
    )
    # A description saying something else is kept.
    assert _line_description("Scrubber", USE, "development", "Priced per product", label=label) == (
        f"Scrubber: {USE} (Priced per product; rule development)"
    )


def test_a_label_is_said_again_only_when_its_words_come_together_in_order() -> None:
    assert says_again("Translate or localize", "Translate and localize a product")
    assert not says_again("Translate or localize", "Localize or translate")
    assert not says_again("Create a derivative work", "Derivative works of CPT content")
    assert not says_again("", "anything")
