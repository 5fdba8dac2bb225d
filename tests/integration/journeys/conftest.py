"""The journeys fixes reuse the applications fixtures (example card, `apply`)."""

from tests.integration.agreements.conftest import apply  # noqa: F401 - the fixture
from tests.integration.billing.conftest import invoice_for  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
