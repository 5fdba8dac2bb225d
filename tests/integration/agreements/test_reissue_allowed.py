"""Round 56: `allowed_actions` lists `reissue` only where the step would go ahead (a
correction replaced the agreement's card for its whole term, the agreement awaits
acceptance, the organization may be licensed), read for a whole list without a
statement per row; a correction covering only part of the term is refused with the
way to the corrected prices, on the console and the API alike (docs/agreements.md)."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.errors import Conflict
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import accept, issued_agreement
from tests.support.factories import bearer
from tests.support.settings import issuing
from tests.support.statements import statements_for

REASON = "Rate card 2027.1 had the development fee mistyped; the correction fixes it."


def _correction(
    version: str = "2027.2", fee: str = "2750.00", period: tuple[str, str] | None = None
) -> dict[str, Any]:
    """2027.1 (for `period`, its own unless told), its development fee corrected."""
    document = example_document()
    document["version"] = version
    document["rules"][2]["model"]["amount"] = fee
    if period is not None:
        document["effective_from"], document["effective_to"] = period
    return document


def _split_correction() -> None:
    """2027.1 replaced for every day of its period by two cards, one a half-year each."""
    ratecards.import_card(
        _correction("2027.2", period=("2027-01-01", "2027-06-30")), published_by="tests"
    )
    ratecards.import_card(
        _correction("2027.3", "2800.00", ("2027-07-01", "2027-12-31")), published_by="tests"
    )


def _staff(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _actions(client: FlaskClient, agreement: Agreement, user: Any) -> list[str]:
    answer = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(user))
    assert answer.status_code == 200, answer.get_json()
    actions: list[str] = answer.get_json()["allowed_actions"]
    return actions


def _listed(client: FlaskClient, user: Any) -> dict[str, list[str]]:
    answer = client.get("/api/v1/agreements?per_page=100", headers=bearer(user))
    assert answer.status_code == 200, answer.get_json()
    return {row["number"]: row["allowed_actions"] for row in answer.get_json()}


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_reissue_is_allowed_only_where_a_correction_replaced_the_card_and_the_step_would_go_ahead(
    client: FlaskClient, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    # Round 57: staff see their own steps only (not the vendor's `accept`, nor the
    # service's `expire`).
    assert _actions(client, agreement, licensing_staff) == ["terminate"]

    ratecards.import_card(_correction(), published_by="tests")
    assert _actions(client, agreement, licensing_staff) == ["reissue", "terminate"]
    assert _listed(client, licensing_staff)[agreement.number] == ["reissue", "terminate"]
    # A vendor never sees a staff step.
    assert _actions(client, agreement, vendor) == ["accept"]

    # Suspended, its organization is licensed nothing new: the step would be a 409.
    accounts.change_organization_standing(
        vendor.organization_id, "suspend", reason="Unpaid invoices.", actor=_staff(licensing_staff)
    )
    assert "reissue" not in _actions(client, agreement, licensing_staff)
    assert "reissue" not in _listed(client, licensing_staff)[agreement.number]
    with pytest.raises(Conflict, match="account is suspended"):
        agreements.reissue(agreement.id, REASON, _staff(licensing_staff), policy=issuing())
    accounts.change_organization_standing(
        vendor.organization_id, "reinstate", reason="Paid.", actor=_staff(licensing_staff)
    )
    assert "reissue" in _actions(client, agreement, licensing_staff)

    # Accepted, it is not reissued (its invoices follow its card).
    accept(agreement, vendor)
    assert "reissue" not in _actions(client, agreement, licensing_staff)


def test_a_correction_that_prices_a_use_no_longer_is_not_an_allowed_reissue(
    client: FlaskClient, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    unpriced = _correction()
    del unpriced["rules"][2]  # development no longer priced by any rule
    ratecards.import_card(unpriced, published_by="tests")
    assert "reissue" not in _actions(client, agreement, licensing_staff)
    assert "reissue" not in _listed(client, licensing_staff)[agreement.number]
    with pytest.raises(Conflict, match="prices no use 1"):
        agreements.reissue(agreement.id, REASON, _staff(licensing_staff), policy=issuing())


def test_a_correction_for_part_of_the_term_is_refused_saying_how_to_reach_the_corrected_prices(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    _split_correction()
    expected = (
        f"Rate card 2027.1 is corrected by 2027.2 and 2027.3, and the term of agreement "
        f"{agreement.number} (2027-01-01 to 2027-12-31) runs across both (2027.2 from "
        "2027-01-01 to 2027-06-30, 2027.3 from 2027-07-01 to 2027-12-31). An agreement is "
        "priced on one card whose period holds its whole term, so it is not reissued for "
        "part of it. To license the term at the corrected prices, terminate it, giving the "
        "reason, and let the vendor apply once for each part (2027-01-01 to 2027-06-30, "
        "2027-07-01 to 2027-12-31): each is priced on its own card. Until it is terminated, "
        "the licensee can still accept it at its price on 2027.1."
    )
    assert "reissue" not in _actions(client, agreement, licensing_staff)

    refused = client.post(
        f"/api/v1/agreements/{agreement.id}/reissue",
        json={"reason": REASON},
        headers=bearer(licensing_staff),
    )
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["detail"] == expected

    # The console says it where the press would be, and offers no press.
    signed_in(client, licensing_staff)
    page = client.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    assert "Not reissued on the corrected card" in page
    assert expected in _words(page)
    assert 'name="reissue-reason"' not in page
    # The wrong card's page links the reason, not a reissue.
    card = _words(client.get("/console/rate-cards/2027.1").get_data(as_text=True))
    assert f"Why {agreement.number} is not reissued" in card
    assert f"Reissue {agreement.number}" not in card
    posted = client.post(
        f"/console/agreements/{agreement.id}/reissue", data={"reissue-reason": REASON}
    )
    assert posted.status_code == 409
    assert expected in _words(posted.get_data(as_text=True))
    db.session().refresh(agreement)
    assert agreement.state == "issued"

    # Each part applied for on its own is priced on its card, as the refusal says.
    first = issued_agreement(
        vendor, licensing_staff, DEVELOPMENT_USE, term=(date(2027, 1, 1), date(2027, 6, 30))
    )
    second = issued_agreement(
        vendor, licensing_staff, DEVELOPMENT_USE, term=(date(2027, 7, 1), date(2027, 12, 31))
    )
    assert (first.rate_card, second.rate_card) == ("2027.2", "2027.3")


def test_a_suspended_organizations_agreement_page_says_why_it_is_not_reissued(
    client: FlaskClient, signed_in: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    ratecards.import_card(_correction(), published_by="tests")
    accounts.change_organization_standing(
        vendor.organization_id, "suspend", reason="Unpaid invoices.", actor=_staff(licensing_staff)
    )
    signed_in(client, licensing_staff)
    words = _words(client.get(f"/console/agreements/{agreement.id}").get_data(as_text=True))
    assert "Not reissued on the corrected card" in words
    assert "account is suspended, so agreement" in words
    assert "Reissue on rate card 2027.2" not in words


def test_the_agreements_list_reads_reissue_for_its_page_without_a_statement_per_row(
    app: Flask, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    made = [issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE) for _ in range(6)]
    ratecards.import_card(_correction(), published_by="tests")
    accept(made[0], vendor)  # accepted: not reissued
    db.session().commit()
    client, headers = app.test_client(), bearer(licensing_staff)
    # Newest first: a page of 2 and one of 6, each agreement on it priced on the correction.
    at_two = statements_for(app, client, "/api/v1/agreements?per_page=2", headers=headers)
    at_six = statements_for(app, client, "/api/v1/agreements?per_page=6", headers=headers)
    assert at_six == at_two
    listed = _listed(client, licensing_staff)
    assert ["reissue" in listed[agreement.number] for agreement in made] == [False] + [True] * 5


def _tiers_and_discount_corrected() -> dict[str, Any]:
    """2027.1 corrected in distribution-software's tiers (the second's price typed
    155.00 for 15.50, a flat fee added to the third) and the nonprofit discount (25%)."""
    document = example_document()
    document["version"] = "2027.2"
    rules = {rule["id"]: rule for rule in document["rules"]}
    tiers = rules["distribution-software"]["model"]["tiers"]
    tiers[1]["unit_price"] = "155.00"
    tiers[2]["flat"] = "500.00"
    document["adjustments"][0]["discount_percent"] = "25"
    return document


def test_the_warning_and_the_reissue_confirmation_read_well_for_tiers_and_a_discount(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    admin: Any,
    example_card: str,
) -> None:
    vendor.organization.organization_type = "nonprofit"  # the nonprofit discount applies
    db.session().commit()
    old = issued_agreement(vendor, licensing_staff, AUTO_USE)  # 2,500 end users, graduated
    signed_in(client, admin)
    checked = _words(
        client.post(
            "/console/rate-cards/",
            data={
                "card": (
                    io.BytesIO(json.dumps(_tiers_and_discount_corrected()).encode()),
                    "c.json",
                ),
                "action": "check",
            },
            content_type="multipart/form-data",
        ).get_data(as_text=True)
    )
    assert (
        "2 prices change more than 2 times over, or from or to nothing, from 2027.1: a typed slip?"
    ) in checked
    # Bounds grouped as the card's page writes them; a tier's flat fee named once.
    assert (
        "Rule distribution-software's price per end user of the tier 101 to 1,000 is 10 times "
        "that on 2027.1: 155.00 USD on 2027.2, 15.50 USD on 2027.1. Check it is not a slip of "
        "a digit."
    ) in checked
    # A fee where there was none is no slip of a digit.
    assert (
        "Rule distribution-software's flat fee of the tier above 1,000 rises from nothing on "
        "2027.1: 500.00 USD on 2027.2, 0.00 USD on 2027.1. Check it is meant, not a figure "
        "typed in the wrong place or deleted."
    ) in checked
    ratecards.import_card(_tiers_and_discount_corrected(), published_by="tests")

    signed_in(client, licensing_staff)
    asked = client.post(
        f"/console/agreements/{old.id}/reissue", data={"reissue-reason": "Tiers corrected."}
    )
    assert asked.status_code == 200
    words = _words(asked.get_data(as_text=True))
    assert "total 119,887.50 USD (it is 27,040.00 USD)" in words
    assert (
        "The new total is 4.4 times the old, more than 2 times over: check that rate card "
        "2027.2 is not itself a slip (its working for each use is below) before reissuing."
    ) in words
    assert "Use 1 (Scrubber Pro): 27,040.00 USD on 2027.1, 119,887.50 USD on 2027.2." in words
    # Each card's working: the tier and the discount that moved are read beside the amounts.
    assert (
        "Working on 2027.1: 2,500 end users, graduated: 100 x 18.50 + 900 x 15.50 + 1,500 x "
        "12.00 = 33,800.00; adjustment nonprofit: 20% off 33,800.00 = 27,040.00;"
    ) in words
    assert (
        "Working on 2027.2: 2,500 end users, graduated: 100 x 18.50 + 900 x 155.00 + 1,500 x "
        "12.00 + flat 500.00 = 159,850.00; adjustment nonprofit: 25% off 159,850.00 = "
        "119,887.50;"
    ) in words
    # Royalties on usage only: nothing up front on either card, said once.
    assert (
        "Nothing is invoiced when they accept it, on either card: royalties on usage are "
        "invoiced with their royalty reports."
    ) in words
    assert "0.00 USD (it is 0.00 USD)" not in words
