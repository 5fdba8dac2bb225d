"""An up-front invoice line's description (round 38): the use as the agreement
says it, the rule's description beside its id, within what a line stores."""

from licensing.agreements.services.acceptance import _line_description
from licensing.billing.models import DESCRIPTION_MAX

USE = "Develop, test, maintain or service a product; SaaS for provider users"


def test_a_line_names_its_rule_by_its_description_and_id() -> None:
    assert _line_description("Scrubber", USE, "development", "Develop a product") == (
        f"Scrubber: {USE} (Develop a product; rule development)"
    )
    assert _line_description("Scrubber", USE, "development", "") == (
        f"Scrubber: {USE} (rule development)"
    )
    assert _line_description("Scrubber", USE, None, "") == f"Scrubber: {USE}"


def test_a_rules_description_too_long_for_the_line_is_left_out_its_id_kept() -> None:
    # The line's column holds 500 characters: issuing the invoice must not fail.
    said = _line_description("P" * 200, USE, "development", "d" * DESCRIPTION_MAX)
    assert said == f"{'P' * 200}: {USE} (rule development)"
    assert len(said) <= DESCRIPTION_MAX
