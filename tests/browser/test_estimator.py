"""A vendor estimates a price in Chromium, without an account and without JavaScript."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from licensing.app import create_app
from licensing.ratecards import cli as ratecards_cli
from tests.conftest import TEST_SECRET_KEY, DatabaseTemplate, make_config, unavailable
from tests.support.module_server import served
from tests.support.navigation import follow
from tests.support.servers import GunicornServer, LiveServer, ServerUnavailable, SMTPServer

# Round 65: an estimate stores nothing (the estimator is a form that posts to itself
# and a link), so the module's tests share one server and the sample cards loaded
# once, each in a browser context of its own, rather than a server, a database and
# the samples apiece (about a second each). The module is kept on one worker.
pytestmark = pytest.mark.xdist_group("estimator")


@pytest.fixture(scope="module")
def live_server(sqlite_template: DatabaseTemplate, smtp_server: SMTPServer) -> Iterator[LiveServer]:
    """The app on a fresh SQLite database with the sample cards, served on a loopback
    port for the module, as the browser tests' `live_server` (CSRF on), the quote
    rate limit off: the module's tests estimate more than it allows a minute."""
    for server in served(sqlite_template, smtp_server, quote_rate_limit="off"):
        with server.app.app_context():
            ratecards_cli.load_samples()
        yield server


@pytest.fixture
def cards(live_server: LiveServer) -> None:
    """The sample cards, which the module's server was given once."""


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A tab with JavaScript switched off: the estimator must not need it."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_a_vendor_estimates_two_uses_and_reads_the_working(page: Any, cards: None) -> None:
    page.goto("/")
    page.get_by_role("link", name="Estimate your price").click()
    page.get_by_label("Your organization is").select_option("commercial")
    page.get_by_label("License term starts").fill("2027-01-01")
    page.get_by_label("License term ends").fill("2027-12-31")
    page.locator("#uses-0-use").select_option("distribution")
    page.locator("#uses-0-product_type").select_option("saas")
    page.locator("#uses-0-user_type").select_option("provider")
    page.locator("#uses-0-quantity-end_users").fill("2500")
    page.locator("#uses-0-description").fill("Claims scrubber")
    page.get_by_role("button", name="Add another use").click()
    # The first row kept what was typed; the second is new.
    assert page.locator("#uses-0-quantity-end_users").input_value() == "2500"
    page.locator("#uses-1-use").select_option("development")
    page.locator("#uses-1-product_type").select_option("software")
    page.get_by_role("button", name="Estimate the price").click()

    heading = page.get_by_role("heading", name="Estimated total")
    assert heading.inner_text() == "Estimated total: 36,300.00 USD"  # 33800.00 + 2500.00
    table = page.locator("table").inner_text()
    assert "distribution-software" in table
    assert "100 x 18.50 + 900 x 15.50 + 1,500 x 12.00 = 33,800.00" in table  # grouped (round 12)


def test_a_volume_use_s_working_names_the_tier_its_members_fall_in(page: Any, cards: None) -> None:
    # Round 50: "150,000 x 0.03" left the analyst to find which of the card's tiers
    # 0.03 is; the working names it, bounded as the card's document words it.
    page.goto("/estimate")
    page.get_by_label("Your organization is").select_option("commercial")
    page.get_by_label("License term starts").fill("2027-01-01")
    page.get_by_label("License term ends").fill("2027-12-31")
    page.locator("#uses-0-use").select_option("distribution")
    page.locator("#uses-0-product_type").select_option("saas")
    page.locator("#uses-0-user_type").select_option("payer")
    page.locator("#uses-0-quantity-members").fill("150000")
    page.get_by_role("button", name="Estimate the price").click()

    table = page.locator("table").inner_text()
    assert (
        "150,000 members, volume: all in tier 2 (100,001 to 1,000,000), 150,000 x 0.03 = 4,500.00"
    ) in table


def test_a_use_missing_its_quantity_is_explained_beside_the_field(page: Any, cards: None) -> None:
    page.goto("/estimate")
    page.locator("#uses-0-use").select_option("distribution")
    page.locator("#uses-0-product_type").select_option("software")
    page.locator("#term_start").fill("2027-01-01")
    page.locator("#term_end").fill("2027-12-31")
    page.get_by_role("button", name="Estimate the price").click()
    error = page.locator("#uses-0-quantity-end_users-error")
    assert "the number of end users" in error.inner_text()  # in words (round 30)
    assert page.locator("#uses-0-quantity-end_users").get_attribute("aria-invalid") == "true"


def test_an_absurd_quantity_is_refused_beside_its_field_not_priced(page: Any, cards: None) -> None:
    page.goto("/estimate")
    page.locator("#uses-0-use").select_option("distribution")
    page.locator("#uses-0-product_type").select_option("saas")
    page.locator("#term_start").fill("2027-01-01")
    page.locator("#term_end").fill("2027-12-31")
    page.locator("#uses-0-quantity-end_users").fill("99999999999999999999999")
    # The whole answer loaded: a `count()` of nothing on a page half drawn proves nothing.
    follow(page, "button", "Estimate the price")
    error = page.locator("#uses-0-quantity-end_users-error").inner_text()
    assert page.get_by_role("heading", name="Estimated total").count() == 0
    assert "1,000,000,000,000" in error


def test_a_use_priced_by_staff_is_not_announced_as_costing_nothing(page: Any, cards: None) -> None:
    page.goto("/estimate")
    page.get_by_label("License term starts").fill("2027-01-01")
    page.get_by_label("License term ends").fill("2027-12-31")
    page.locator("#uses-0-use").select_option("distribution")
    page.locator("#uses-0-product_type").select_option("ai_model")
    page.locator("#uses-0-user_type").select_option("provider")
    page.get_by_role("button", name="Estimate the price").click()
    heading = page.get_by_role("heading", name="Estimated total").inner_text()
    assert heading == "Estimated total: to be priced by licensing staff"
    assert "0.00 USD" not in heading


def test_a_company_pricing_training_material_is_pointed_to_the_permission_form(
    page: Any, cards: None
) -> None:
    """Round 34's walk of round 33's note: a company's education use is priced, and
    the estimate says beside it that an academic course would be a permission,
    with a link that opens the request form."""
    page.goto("/estimate")
    page.get_by_label("Your organization is").select_option("commercial")
    page.get_by_label("License term starts").fill("2027-01-15")
    page.get_by_label("License term ends").fill("2027-06-30")
    page.locator("#uses-0-use").select_option("education")
    page.locator("#uses-0-product_type").select_option("print")
    page.locator("#uses-0-user_type").select_option("provider")
    page.locator("#uses-0-quantity-copies").fill("40")
    page.get_by_role("button", name="Estimate the price").click()
    # `count()` does not wait: the answer's page is waited for, not the form's.
    page.locator("#commercial-education").wait_for()
    assert page.get_by_role("heading", name="Estimated total").count() == 1
    note = page.locator("#commercial-education")
    words = " ".join(note.inner_text().split())
    assert words.startswith(
        "Use 1 is education for a commercial organization, licensed and priced as training"
    )
    assert "is a permission request, at no fee" in words
    note.get_by_role("link", name="request permission for an educational use").click()
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Request permission for educational use"


def test_the_estimate_speaks_the_vendor_s_language(page: Any, cards: None) -> None:
    page.goto("/estimate")
    page.get_by_label("Your organization is").select_option("academic")
    page.get_by_label("License term starts").fill("2027-07-01")
    page.get_by_label("License term ends").fill("2027-12-31")
    assert page.locator("#uses-0-product_type option[value=saas]").inner_text() == "SaaS"
    assert page.locator("#uses-0-product_type option[value=ai_model]").inner_text() == "AI model"
    page.locator("#uses-0-use").select_option("distribution")
    page.locator("#uses-0-product_type").select_option("saas")
    page.locator("#uses-0-user_type").select_option("provider")
    page.locator("#uses-0-quantity-end_users").fill("10")
    page.get_by_role("button", name="Add another use").click()
    page.locator("#uses-1-use").select_option("education")
    page.locator("#uses-1-product_type").select_option("print")
    page.locator("#uses-1-user_type").select_option("academic")
    page.get_by_role("button", name="Estimate the price").click()
    result = page.locator("main").inner_text()
    assert "end_users" not in result
    assert "10 end users" in result
    assert not re.search(r"\d+/73", result)  # an exact fraction shown by its value
    assert "= about 504.109589" in result  # the minimum 1000.00 x 184/365, discounted never
    assert "proration" not in result
    assert (
        "the term is 184 of the rate card period's 365 days, 184/365 (about 50.4%): the minimum "
        "of use 1 is prorated to it; "
        "the royalty on usage of use 1 is not"
    ) in result
    routed = page.locator("tbody tr").nth(1).inner_text()
    assert "Permission request" in routed
    assert "Automatic" not in routed


def test_after_adding_a_use_the_keyboard_continues_in_the_new_use(page: Any, cards: None) -> None:
    # The page came back at its top: a keyboard user tabbed through the menus and
    # every field of the first use to reach the one just added.
    page.goto("/estimate")
    page.get_by_role("button", name="Add another use").click()
    # The form posts to the page again at the new use (#use-2). Waiting for a load
    # is not enough: the browser moves the keyboard's starting point to the new use
    # when it goes to the address's fragment, which may come after the load. Nor is
    # :target alone: Chromium marks the target as it parses, but moves the starting
    # point only once the page can render (its stylesheet loaded, a 304 that may
    # arrive later under load), in a rendering step no script can observe (and a
    # headless page without frames never runs requestAnimationFrame); CI saw Tab
    # land before it. So: the target, the load (stylesheets in), then a pause.
    page.wait_for_selector("#use-2:target", state="attached")
    page.wait_for_load_state("load")
    page.wait_for_timeout(250)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "uses-1-use"


@pytest.fixture
def gunicorn(sqlite_template: DatabaseTemplate) -> Iterator[GunicornServer]:
    """The service behind gunicorn (its request line: 8,190 bytes since round 64)."""
    database_url = sqlite_template.new_url()
    app = create_app(make_config(database_url))
    with app.app_context():
        ratecards_cli.load_samples()
    app.extensions["licensing.db"].engine.dispose()
    server = GunicornServer(
        {
            "LICENSING_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "QUOTE_RATE_LIMIT": "off",
            "LOG_LEVEL": "WARNING",
        },
        workers=1,
        through_cli=False,  # the server's answer is the point, not the command
    )
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(f"gunicorn: {exc}")
    # gunicorn's master binds before its worker has imported the app: the first
    # answer waits for that (15 s on a loaded machine), here rather than inside the
    # tab's 15 s timeout.
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=90) as answer:  # noqa: S310
        assert answer.status == 200
    yield server
    server.stop()


# 195 characters (200 at most), accented letters taking 6 bytes each in a URL.
LONG_DESCRIPTION = (
    "Éditeur québécois: vérificateur de réclamations médicales, évalué et validé, "
    "déployé à Montréal, Québec et Trois-Rivières; intégré aux systèmes hospitaliers "
    "régionaux; mises à jour trimestrielles"
)


def test_ten_uses_with_long_descriptions_are_estimated_behind_gunicorn(
    browser: Any, gunicorn: GunicornServer
) -> None:
    context = browser.new_context(base_url=gunicorn.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    # The ten uses come from an estimate's link (its query string, as an estimate
    # shared opens), their long descriptions typed in and the form sent. Round 65:
    # each use was added with *Add another use*, nine pages through gunicorn for the
    # button `test_after_adding_a_use_the_keyboard_continues_in_the_new_use` walks.
    asked = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "",
    }
    for row in range(10):
        asked[f"uses-{row}-use"] = "distribution"
        asked[f"uses-{row}-product_type"] = "saas"
        asked[f"uses-{row}-user_type"] = "provider"
        asked[f"uses-{row}-quantity-end_users"] = "2500"
    page.goto("/estimate?" + urlencode(asked))
    assert page.get_by_label("Your organization is").input_value() == "commercial"
    for row in range(10):
        assert page.locator(f"#uses-{row}-quantity-end_users").input_value() == "2500"
        page.locator(f"#uses-{row}-description").fill(f"{row + 1}. {LONG_DESCRIPTION}"[:200])
    page.get_by_role("button", name="Estimate the price").click()
    heading = page.get_by_role("heading", name="Estimated total")
    assert heading.inner_text() == "Estimated total: 338,000.00 USD"
    assert "10. Éditeur québécois" in page.locator("table").inner_text()
    assert "too long to fit in a link" in page.inner_text("main")
    context.close()
