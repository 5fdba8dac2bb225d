"""Pricing throughput: the pure core, and the quote API through the app.

Prints figures; asserts nothing about time (performance is measured here, never
in the test suite). Run with `make bench`.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from importlib import resources
from pathlib import Path

from harness import bench_app  # first: the repository on the path

from licensing.pricing import ProposedUse, QuoteRequest, Term, parse_rate_card, price

USES_PER_REQUEST = (1, 10, 50)
ROUNDS = 5


def sample_card_document() -> dict[str, object]:
    text = resources.files("licensing.ratecards").joinpath("samples/2027.1.json").read_text()
    document: dict[str, object] = json.loads(text)
    return document


def request_with(uses: int) -> QuoteRequest:
    return QuoteRequest(
        organization_type="commercial",
        term=Term(start=date(2027, 1, 1), end=date(2027, 6, 30)),
        rate_card=None,
        uses=tuple(
            ProposedUse(
                use="distribution",
                product_type="saas",
                user_type="provider",
                quantity={"end_users": 100 * (index + 1)},
                revenue=None,
                languages=(),
                description=f"Invented product {index}",
            )
            for index in range(uses)
        ),
    )


def measure(label: str, action: Callable[[], object], repeat: int) -> None:
    """Median and spread over ROUNDS rounds of `repeat` calls each."""
    per_call = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(repeat):
            action()
        per_call.append((time.perf_counter() - started) / repeat)
    median = statistics.median(per_call)
    print(
        f"{label:<46} median {median * 1000:8.3f} ms/call  "
        f"(min {min(per_call) * 1000:.3f}, max {max(per_call) * 1000:.3f}) "
        f"≈ {1 / median:,.0f} calls/s"
    )


def bench_core() -> None:
    document = sample_card_document()
    measure("parse + validate the sample rate card", partial(parse_rate_card, document), 200)
    card = parse_rate_card(document)
    for uses in USES_PER_REQUEST:
        request = request_with(uses)
        measure(f"price a request of {uses} use(s), pure core", partial(price, card, request), 200)


def bench_api() -> None:
    from licensing.ratecards.cli import load_samples

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        app = bench_app(url, environment="development")
        with app.app_context():
            load_samples()
        client = app.test_client()
        for uses in USES_PER_REQUEST:
            body: dict[str, object] = {
                "organization_type": "commercial",
                "term": {"start": "2027-01-01", "end": "2027-06-30"},
                "uses": [
                    {
                        "use": "distribution",
                        "product_type": "saas",
                        "user_type": "provider",
                        "quantity": {"end_users": 100 * (index + 1)},
                    }
                    for index in range(uses)
                ],
            }

            def post(body: dict[str, object] = body) -> None:
                response = client.post("/api/v1/quotes", json=body)
                if response.status_code != 200:
                    raise SystemExit(f"quote failed: {response.status_code} {response.data!r}")

            measure(f"POST /api/v1/quotes with {uses} use(s), SQLite", post, 50)


if __name__ == "__main__":
    bench_core()
    bench_api()
