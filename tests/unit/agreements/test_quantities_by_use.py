"""Round 67 (vendor67): the estimator and the application form asked for all five
counts (copies, end users, languages, members, users) whatever the use; each use now
asks for those its card's rules price by (`quantity-fields.js` hides the others), and
each count's label names the uses it is for, which is all a page without JavaScript
shows."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from licensing.agreements import forms
from licensing.pricing.ratecard import parse_rate_card

CARD = parse_rate_card(
    json.loads(
        (Path(__file__).parents[1] / "pricing" / "ratecard_example.json").read_text(),
        parse_float=Decimal,
    )
)


def test_each_use_asks_for_the_counts_its_rules_price_by() -> None:
    assert forms.units_by_use([CARD]) == {
        "development": [],  # a flat fee
        "distribution": ["copies", "end_users", "members"],  # by product and user type
        "internal_use": ["users"],
        "derivative_work": [],  # a percent of revenue
        "translation": ["languages"],
        # A routed use is read for its audience's size, which a request carries.
        "education": ["copies", "end_users", "users"],
    }


def test_each_counts_label_names_the_uses_it_is_for() -> None:
    by_use = forms.units_by_use([CARD])
    assert forms.unit_uses_words(by_use, forms.quantity_units([CARD])) == {
        "copies": "(for distribution or education)",
        "end_users": "(for distribution or education)",
        "languages": "(for translation)",
        "members": "(for distribution)",
        "users": "(for internal use or education)",
    }


def test_the_script_reads_each_rule_in_order_with_what_it_asks_for() -> None:
    """Round 68: the rule that prices a use depends on its product and user type too
    (the first whose `when` matches): the form carries each card's rules, in order."""
    (rules,) = forms.unit_rules([CARD])
    by_id = dict(zip([rule.id for rule in CARD.rules], rules, strict=True))
    assert by_id["distribution-payer"] == {
        "when": {"use": ["distribution"], "user_type": ["payer"]},
        "units": ["members"],
    }
    assert by_id["distribution-software"] == {
        "when": {"use": ["distribution"], "product_type": ["software", "saas", "mobile_app"]},
        "units": ["end_users"],
    }
    assert by_id["development"] == {"when": {"use": ["development"]}, "units": []}
    routed = by_id["education-noncommercial"]
    assert routed["when"]["organization_type"] == ["academic", "nonprofit", "individual"]
    assert routed["units"] == ["copies", "end_users", "users"]


def test_an_organization_type_known_leaves_out_the_rules_that_cannot_match_it() -> None:
    # The application form knows the applicant's type: a commercial vendor's education
    # is priced by the flat fee, never routed, so it asks for no audience.
    (commercial,) = forms.unit_rules([CARD], "commercial")
    assert [rule["when"] for rule in commercial][:2] == [
        {"use": ["education"]},
        {"use": ["development"]},
    ]
    (academic,) = forms.unit_rules([CARD], "academic")
    assert academic[0] == {
        "when": {"use": ["education"]},
        "units": ["copies", "end_users", "users"],
    }
