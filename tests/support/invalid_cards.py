"""Rate card documents with exactly one mistake each, and the path of the one
problem the card's reader reports: the core's tests and the API's share them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

Document = dict[str, Any]


def flat_rule(**extra: Any) -> Document:
    return {"id": "r", "when": {}, "model": {"type": "flat", "amount": "10"}, **extra}


def tiered_rule(tiers: list[Any], mode: str = "graduated") -> Document:
    return {
        "id": "r",
        "when": {},
        "model": {"type": "per_unit", "unit": "seats", "mode": mode, "tiers": tiers},
    }


# Each case: a card with exactly one mistake, and the path of the one problem reported.
INVALID_CARDS: list[tuple[str, Callable[[Document], None], str]] = [
    ("version missing", lambda d: d.pop("version"), "version"),
    ("version blank", lambda d: d.update(version="  "), "version"),
    ("version a number", lambda d: d.update(version=Decimal("2027.1")), "version"),
    ("title not a string", lambda d: d.update(title=7), "title"),
    ("unknown currency", lambda d: d.update(currency="DOLLARS"), "currency"),
    ("currency missing", lambda d: d.pop("currency"), "currency"),
    ("date in another format", lambda d: d.update(effective_from="01/01/2027"), "effective_from"),
    ("date that does not exist", lambda d: d.update(effective_to="2027-02-30"), "effective_to"),
    ("date as a datetime-like text", lambda d: d.update(effective_to="20271231"), "effective_to"),
    ("period ends before it starts", lambda d: d.update(effective_to="2026-12-31"), "effective_to"),
    ("unknown top-level field", lambda d: d.update(notes="x"), "notes"),
    ("rules missing", lambda d: d.pop("rules"), "rules"),
    ("no rules", lambda d: d.update(rules=[]), "rules"),
    ("rules not a list", lambda d: d.update(rules={"id": "x"}), "rules"),
    ("adjustments not a list", lambda d: d.update(adjustments="none"), "adjustments"),
    ("rule not an object", lambda d: d["rules"].append("free"), "rules.10"),
    ("rule without id", lambda d: d["rules"][2].pop("id"), "rules.2.id"),
    ("duplicate rule id", lambda d: d["rules"][3].update(id="development"), "rules.3.id"),
    ("unknown rule field", lambda d: d["rules"][2].update(price="1"), "rules.2.price"),
    ("when not an object", lambda d: d["rules"][2].update(when="development"), "rules.2.when"),
    (
        "unknown when key",
        lambda d: d["rules"][2]["when"].update(region="eu"),
        "rules.2.when.region",
    ),
    ("unknown use", lambda d: d["rules"][2]["when"].update(use="developing"), "rules.2.when.use"),
    (
        "unknown value in a list",
        lambda d: d["rules"][5]["when"].update(product_type=["saas", "kiosk"]),
        "rules.5.when.product_type.1",
    ),
    (
        "empty list in a when",
        lambda d: d["rules"][5]["when"].update(product_type=[]),
        "rules.5.when.product_type",
    ),
    (
        "number in a when",
        lambda d: d["rules"][5]["when"].update(user_type=3),
        "rules.5.when.user_type",
    ),
    (
        "route and model",
        lambda d: d["rules"][0].update(model={"type": "flat", "amount": "1"}),
        "rules.0",
    ),
    ("neither route nor model", lambda d: d["rules"][2].pop("model"), "rules.2"),
    ("route to a license", lambda d: d["rules"][0].update(route="license"), "rules.0.route"),
    ("minimum on a route", lambda d: d["rules"][0].update(minimum="10"), "rules.0.minimum"),
    ("unknown review", lambda d: d["rules"][2].update(review="manager"), "rules.2.review"),
    ("negative minimum", lambda d: d["rules"][2].update(minimum="-1"), "rules.2.minimum"),
    ("float minimum", lambda d: d["rules"][2].update(minimum=10.5), "rules.2.minimum"),
    ("minimum in words", lambda d: d["rules"][2].update(minimum="ten"), "rules.2.minimum"),
    ("minimum as exponent", lambda d: d["rules"][2].update(minimum="1e3"), "rules.2.minimum"),
    ("boolean maximum", lambda d: d["rules"][2].update(maximum=True), "rules.2.maximum"),
    (
        "maximum below minimum",
        lambda d: d["rules"][5].update(maximum="999.99"),
        "rules.5.maximum",
    ),
    ("model not an object", lambda d: d["rules"][2].update(model="flat"), "rules.2.model"),
    ("model without type", lambda d: d["rules"][2]["model"].pop("type"), "rules.2.model.type"),
    (
        "unknown model type",
        lambda d: d["rules"][2]["model"].update(type="tiered"),
        "rules.2.model.type",
    ),
    ("flat without amount", lambda d: d["rules"][2]["model"].pop("amount"), "rules.2.model.amount"),
    (
        "float flat amount",
        lambda d: d["rules"][2]["model"].update(amount=2500.0),
        "rules.2.model.amount",
    ),
    (
        "prorate as text",
        lambda d: d["rules"][2]["model"].update(prorate="yes"),
        "rules.2.model.prorate",
    ),
    ("prorate as 1", lambda d: d["rules"][2]["model"].update(prorate=1), "rules.2.model.prorate"),
    ("unknown model field", lambda d: d["rules"][2]["model"].update(cap="1"), "rules.2.model.cap"),
    ("unknown mode", lambda d: d["rules"][5]["model"].update(mode="flat"), "rules.5.model.mode"),
    ("unit missing", lambda d: d["rules"][5]["model"].pop("unit"), "rules.5.model.unit"),
    ("unit blank", lambda d: d["rules"][5]["model"].update(unit=""), "rules.5.model.unit"),
    ("tiers missing", lambda d: d["rules"][5]["model"].pop("tiers"), "rules.5.model.tiers"),
    ("no tiers", lambda d: d["rules"][5]["model"].update(tiers=[]), "rules.5.model.tiers"),
    (
        "tier not an object",
        lambda d: d["rules"][5]["model"]["tiers"].insert(0, 5),
        "rules.5.model.tiers.0",
    ),
    (
        "up_to missing",
        lambda d: d["rules"][5]["model"]["tiers"][1].pop("up_to"),
        "rules.5.model.tiers.1.up_to",
    ),
    (
        "up_to zero",
        lambda d: d["rules"][5]["model"]["tiers"][0].update(up_to=0),
        "rules.5.model.tiers.0.up_to",
    ),
    (
        "up_to as text",
        lambda d: d["rules"][5]["model"]["tiers"][0].update(up_to="100"),
        "rules.5.model.tiers.0.up_to",
    ),
    (
        "up_to as a decimal",
        lambda d: d["rules"][5]["model"]["tiers"][0].update(up_to=Decimal("100.5")),
        "rules.5.model.tiers.0.up_to",
    ),
    (
        "up_to not ascending",
        lambda d: d["rules"][5]["model"]["tiers"][1].update(up_to=100),
        "rules.5.model.tiers.1.up_to",
    ),
    (
        "open tier before the last",
        lambda d: d["rules"][5]["model"]["tiers"][1].update(up_to=None),
        "rules.5.model.tiers.1.up_to",
    ),
    (
        "last tier closed",
        lambda d: d["rules"][5]["model"]["tiers"][2].update(up_to=5000),
        "rules.5.model.tiers.2.up_to",
    ),
    (
        "negative unit price",
        lambda d: d["rules"][5]["model"]["tiers"][2].update(unit_price="-12.00"),
        "rules.5.model.tiers.2.unit_price",
    ),
    (
        "unit price missing",
        lambda d: d["rules"][5]["model"]["tiers"][2].pop("unit_price"),
        "rules.5.model.tiers.2.unit_price",
    ),
    (
        "negative tier flat",
        lambda d: d["rules"][5]["model"]["tiers"][0].update(flat="-5"),
        "rules.5.model.tiers.0.flat",
    ),
    (
        "unknown tier field",
        lambda d: d["rules"][5]["model"]["tiers"][0].update(price="1"),
        "rules.5.model.tiers.0.price",
    ),
    (
        "percent above 100",
        lambda d: d["rules"][7]["model"].update(percent="100.01"),
        "rules.7.model.percent",
    ),
    (
        "percent negative",
        lambda d: d["rules"][7]["model"].update(percent="-1"),
        "rules.7.model.percent",
    ),
    ("percent missing", lambda d: d["rules"][7]["model"].pop("percent"), "rules.7.model.percent"),
    ("sum without parts", lambda d: d["rules"][3]["model"].update(parts=[]), "rules.3.model.parts"),
    (
        "bad part in a sum",
        lambda d: d["rules"][3]["model"]["parts"][0].update(amount="-82.50"),
        "rules.3.model.parts.0.amount",
    ),
    (
        "bad part in a nested sum",
        lambda d: d["rules"][3]["model"]["parts"].append(
            {"type": "sum", "parts": [{"type": "percent_of_revenue", "percent": 5.0}]}
        ),
        "rules.3.model.parts.2.parts.0.percent",
    ),
    ("adjustment without id", lambda d: d["adjustments"][0].pop("id"), "adjustments.0.id"),
    (
        "duplicate adjustment id",
        lambda d: d["adjustments"][1].update(id="nonprofit"),
        "adjustments.1.id",
    ),
    (
        "discount above 100",
        lambda d: d["adjustments"][1].update(discount_percent="101"),
        "adjustments.1.discount_percent",
    ),
    (
        "discount as float",
        lambda d: d["adjustments"][1].update(discount_percent=10.0),
        "adjustments.1.discount_percent",
    ),
    (
        "discount missing",
        lambda d: d["adjustments"][1].pop("discount_percent"),
        "adjustments.1.discount_percent",
    ),
    (
        "unknown organization type in an adjustment",
        lambda d: d["adjustments"][1]["when"].update(organization_type="charity"),
        "adjustments.1.when.organization_type",
    ),
    (
        "unknown adjustment field",
        lambda d: d["adjustments"][1].update(until="2027-06-30"),
        "adjustments.1.until",
    ),
]
