"""Uses an application is made of, shared by the tests and the benchmarks."""

from __future__ import annotations

# distribution-data is `review: staff` on the sample and example cards: 10% of
# revenue, minimum 5000.00. A submitted application with it waits in the queue.
STAFF_USE = {
    "product_name": "Fernhill Code Feed",
    "description": "A nightly data file for billing systems",
    "use": "distribution",
    "product_type": "data_file",
    "user_type": "provider",
    "delivery": "data_feed",
    "territories": "United States, Canada",
    "languages": ["en", "fr"],
    "revenue": "80000.00",
}
