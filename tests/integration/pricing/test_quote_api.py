"""POST /api/v1/quotes holds to the pricing contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.extensions import limiter
from licensing.ratecards import services
from tests.integration.pricing.conftest import card_document, quote_body, use

PROBLEM = "application/problem+json"


def post(client: FlaskClient, body: Any) -> Any:
    return client.post("/api/v1/quotes", json=body)


def test_the_contract_example_is_priced_exactly(client: FlaskClient, example_card: str) -> None:
    response = post(client, quote_body())
    assert response.status_code == 200
    body = response.get_json()
    explanation = body["lines"][0].pop("explanation")
    assert body == {
        "rate_card": "2027.1",
        "currency": "USD",
        "proration": "1",
        "lines": [
            {
                "use_index": 0,
                "rule": "distribution-software",
                "route": "license",
                "review": "auto",
                "amount": "33800.00",
            }
        ],
        "total": "33800.00",
        "requires_review": False,
    }
    assert explanation[0] == (
        "2500 end_users, graduated: 100 x 18.50 + 900 x 15.50 + 1500 x 12.00 = 33800.00"
    )


def test_without_a_rate_card_the_card_in_effect_on_the_start_date_prices_it(
    client: FlaskClient, example_card: str
) -> None:
    body = quote_body()
    del body["rate_card"]
    response = post(client, body)
    assert response.status_code == 200
    assert response.get_json()["rate_card"] == "2027.1"


def test_a_part_year_term_prorates_flat_fees_and_minimums_exactly(
    client: FlaskClient, example_card: str
) -> None:
    body = quote_body(
        term={"start": "2027-07-01", "end": "2027-12-31"},
        uses=[use(), use(use="distribution", product_type="saas", quantity={"end_users": 10})],
    )
    data = post(client, body).get_json()
    assert data["proration"] == "184/365"
    # development: 2500.00 x 184/365 = 1260.273972... -> 1260.27
    assert data["lines"][0]["amount"] == "1260.27"
    # 10 x 18.50 = 185.00 is below the prorated minimum 1000.00 x 184/365 = 504.109589...
    assert data["lines"][1]["amount"] == "504.11"
    assert data["total"] == "1764.38"


def test_discounts_apply_but_never_below_the_minimum(
    client: FlaskClient, example_card: str
) -> None:
    body = quote_body(
        organization_type="nonprofit",
        uses=[
            use(use="distribution", product_type="saas", quantity={"end_users": 2500}),
            use(use="distribution", product_type="saas", quantity={"end_users": 50}),
        ],
    )
    lines = post(client, body).get_json()["lines"]
    assert lines[0]["amount"] == "27040.00"  # 33800.00 less 20%
    assert lines[1]["amount"] == "1000.00"  # 50 x 18.50 = 925.00 less 20% = 740.00 < minimum


def test_routed_and_unmatched_uses_follow_the_contract(
    client: FlaskClient, example_card: str
) -> None:
    body = quote_body(
        organization_type="academic",
        uses=[
            use(use="education", product_type="print", user_type="academic"),
            use(use="derivative_work", product_type="ai_model", revenue="1000"),
        ],
    )
    data = post(client, body).get_json()
    routed, unmatched = data["lines"]
    assert routed["route"] == "permission_request"
    assert routed["amount"] == "0.00"
    assert routed["review"] == "auto"
    assert unmatched["rule"] is None
    assert unmatched["route"] == "license"
    assert unmatched["amount"] is None
    assert unmatched["review"] == "staff"
    assert data["requires_review"] is True
    assert data["total"] == "0.00"


def test_revenue_given_as_a_json_number_is_read_as_its_decimal_text(
    client: FlaskClient, example_card: str
) -> None:
    body = json.dumps(
        quote_body(uses=[use(use="distribution", product_type="data_file", revenue="REVENUE")])
    ).replace('"REVENUE"', "123456.785")
    response = client.post("/api/v1/quotes", data=body, content_type="application/json")
    assert response.status_code == 200
    # 10% of 123456.785 = 12345.6785, rounded half-up once: 12345.68 (above the minimum)
    assert response.get_json()["lines"][0]["amount"] == "12345.68"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (quote_body(organization_type="charity"), "organization_type"),
        (quote_body(uses=[use(use="resale")]), "uses.0.use"),
        (quote_body(uses=[use(product_type="hologram")]), "uses.0.product_type"),
        (quote_body(uses=[use(user_type="robot")]), "uses.0.user_type"),
        (quote_body(uses=[use(quantity={"end_users": -1})]), "uses.0.quantity.end_users"),
        (quote_body(uses=[use(quantity={"end_users": 2.5})]), "uses.0.quantity.end_users"),
        (quote_body(uses=[use(quantity={"end_users": "ten"})]), "uses.0.quantity.end_users"),
        (quote_body(uses=[use(quantity={"end_users": True})]), "uses.0.quantity.end_users"),
        (quote_body(uses=[use(revenue="-5")]), "uses.0.revenue"),
        (quote_body(uses=[use(revenue="1e5")]), "uses.0.revenue"),
        (quote_body(uses=[use(revenue="lots")]), "uses.0.revenue"),
        (quote_body(uses=[]), "uses"),
        (quote_body(term={"start": "2027-13-01", "end": "2027-12-31"}), "term.start"),
        (quote_body(term={"start": "2027-01-01"}), "term.end"),
        # The contract writes days YYYY-MM-DD; Python also reads these two forms.
        (quote_body(term={"start": "20270101", "end": "2027-12-31"}), "term.start"),
        (quote_body(term={"start": "2027-01-01", "end": "2027-W52-5"}), "term.end"),
        (
            {"term": {"start": "2027-01-01", "end": "2027-12-31"}, "uses": [use()]},
            "organization_type",
        ),
        (
            quote_body(uses=[use(use="distribution", product_type="saas", quantity={})]),
            "uses.0.quantity.end_users",
        ),
        (
            quote_body(uses=[use(use="distribution", product_type="data_file")]),
            "uses.0.revenue",
        ),
        (quote_body(term={"start": "2027-06-01", "end": "2028-01-31"}), "term"),
        (quote_body(term={"start": "2027-06-01", "end": "2027-05-31"}), "term.end"),
        (quote_body(rate_card="1999.9"), "rate_card"),
        (quote_body(uses=[use(colour="blue")]), "uses.0.colour"),
    ],
)
def test_bad_input_is_a_422_problem_naming_the_field(
    client: FlaskClient, example_card: str, body: dict[str, Any], path: str
) -> None:
    response = post(client, body)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["status"] == 422
    assert path in problem["errors"], problem["errors"]
    assert all(isinstance(m, str) and m for m in problem["errors"][path])


def test_no_card_in_effect_on_the_start_date_is_a_422(
    client: FlaskClient, example_card: str
) -> None:
    body = quote_body(term={"start": "2031-01-01", "end": "2031-06-30"})
    del body["rate_card"]
    response = post(client, body)
    assert response.status_code == 422
    assert "term.start" in response.get_json()["errors"]


def test_every_problem_in_a_request_is_reported_at_once(
    client: FlaskClient, example_card: str
) -> None:
    body = quote_body(
        uses=[
            use(use="distribution", product_type="saas"),
            use(use="distribution", product_type="data_file"),
        ]
    )
    errors = post(client, body).get_json()["errors"]
    assert set(errors) == {"uses.0.quantity.end_users", "uses.1.revenue"}


def test_a_newer_card_starting_the_same_day_takes_over(client: FlaskClient, app: Flask) -> None:
    services.import_card(card_document(), published_by="tests")
    revised = card_document(version="2027.2")
    revised["rules"][2]["model"]["amount"] = "3000.00"  # development
    services.import_card(revised, published_by="tests")
    body = quote_body(uses=[use()])
    del body["rate_card"]
    data = post(client, body).get_json()
    assert data["rate_card"] == "2027.2"
    assert data["lines"][0]["amount"] == "3000.00"


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {}


class TestRateLimit:
    @pytest.fixture
    def config_changes(self) -> dict[str, Any]:
        return {"quote_rate_limit": "3 per minute"}

    def test_a_client_over_the_limit_gets_429_with_retry_after(
        self, client: FlaskClient, example_card: str
    ) -> None:
        statuses = [post(client, quote_body()).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = post(client, quote_body())
        assert refused.status_code == 429
        assert refused.mimetype == PROBLEM
        assert int(refused.headers["Retry-After"]) > 0

    def test_the_429_says_what_the_limit_is_and_when_to_try_again(
        self, client: FlaskClient, example_card: str
    ) -> None:
        # Its detail used to be Flask-Limiter's bare "3 per 1 minute".
        for _ in range(3):
            post(client, quote_body())
        refused = post(client, quote_body())
        detail = refused.get_json()["detail"]
        assert detail.startswith("Too many requests")
        assert "3 per 1 minute" in detail
        assert f"try again in {refused.headers['Retry-After']} seconds" in detail

    def test_only_the_429_tells_the_client_to_retry_after(
        self, client: FlaskClient, example_card: str
    ) -> None:
        # Every answer of a limited route carried Retry-After (Flask-Limiter's
        # headers), a 200 and a 422 too, as if the client should wait and retry.
        answered = post(client, quote_body())
        refused_body = post(client, {"uses": []})
        assert answered.status_code == 200
        assert refused_body.status_code == 422
        for response in (answered, refused_body):
            assert "Retry-After" not in response.headers
            assert response.headers["X-RateLimit-Limit"] == "3"
        post(client, quote_body())
        limited = post(client, quote_body())
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0

    def test_the_limit_is_per_client_address(self, client: FlaskClient, example_card: str) -> None:
        for _ in range(3):
            post(client, quote_body())
        other = client.post(
            "/api/v1/quotes", json=quote_body(), environ_base={"REMOTE_ADDR": "10.9.8.7"}
        )
        assert other.status_code == 200

    def test_each_answer_within_the_limit_reports_what_is_left_of_it(
        self, client: FlaskClient, example_card: str
    ) -> None:
        # The limiter's after-request hook reports only what this request's
        # checks found (it skips requests that made no limiter state).
        answers = [post(client, quote_body()) for _ in range(2)]
        assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3", "3"]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1"]
        assert all(int(a.headers["X-RateLimit-Reset"]) > 0 for a in answers)


class TestRateLimitOff:
    @pytest.fixture
    def config_changes(self) -> dict[str, Any]:
        return {"quote_rate_limit": "off"}

    def test_off_lets_every_request_through_without_limiter_errors(
        self, client: FlaskClient, example_card: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        statuses = {post(client, quote_body()).status_code for _ in range(5)}
        assert statuses == {200}
        assert not [r for r in caplog.records if r.name.startswith("flask-limiter")]

    def test_off_spares_the_limiter_evaluating_any_limit(
        self, client: FlaskClient, example_card: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def exemption_scope(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the limiter evaluated limits for a route with none")

        monkeypatch.setattr(limiter.limit_manager, "exemption_scope", exemption_scope)
        assert post(client, quote_body()).status_code == 200

    def test_off_leaves_no_limiter_state_to_report_or_reset(
        self, client: FlaskClient, example_card: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Every read or write of the limiter's per-request state goes through
        # `context`: neither the checks, the headers hook nor the teardown touch it.
        def context(self: Any) -> Any:
            raise AssertionError("the limiter kept state for a route with no limit")

        monkeypatch.setattr(type(limiter), "context", property(context))
        response = post(client, quote_body())
        assert response.status_code == 200
        assert not [name for name, _value in response.headers if name.startswith("X-RateLimit")]
