"""Billing staff export from the console in Chromium: the page's form downloads
the file, streamed by the live server, and a bad filter is explained in place."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from licensing import db
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.words import use_words
from tests.browser.conftest import sign_in, sign_in_on_the_form
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.finance.conftest import issue
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.billing import paid_offline
from tests.support.servers import LiveServer


def _downloaded(page: Any, tmp_path: Path, dataset: str) -> list[dict[str, str]]:
    """The rows of the CSV the form's Export button downloads (named for `dataset`)."""
    with page.expect_download() as caught:
        page.get_by_role("button", name="Export").click()
    download = caught.value
    assert download.suggested_filename.startswith(f"{dataset}-")
    target = tmp_path / f"{dataset}.csv"
    download.save_as(target)
    return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))


OPTIONS = "select => Array.from(select.options, option => option.text)"
FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _offered(page: Any, label: str) -> list[str]:
    offered: list[str] = page.get_by_label(label, exact=True).evaluate(OPTIONS)
    return offered


def test_billing_staff_download_an_export_from_the_console(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("1200.00", "350.50")))
        assert invoice is not None
        number = invoice.number
        staff = factories.make_staff(db.session(), roles=("billing",))
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Exports").click()
    # The page's deferred script narrows the choices: a pick made before the page
    # has loaded would reach no listener (a whole CI on record failed so).
    page.wait_for_url("**/console/exports")

    page.get_by_label("Dataset").select_option("invoice_lines")
    page.get_by_label("To", exact=True).fill("2026-01-01")
    page.get_by_label("From", exact=True).fill("2027-01-01")
    page.get_by_role("button", name="Export").click()
    assert (
        "Must be on or after From (January 1, 2027)." in page.locator(".error-summary").inner_text()
    )

    page.get_by_label("To", exact=True).fill("2027-12-31")
    rows = _downloaded(page, tmp_path, "invoice_lines")
    assert [(r["invoice_number"], r["amount"]) for r in rows] == [
        (number, "1200.00"),
        (number, "350.50"),
    ]
    assert {r["schema_version"] for r in rows} == {"1"}


def test_a_finance_clerk_pulls_the_days_recorded_payments_and_reads_every_choice_in_words(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    """Round 39: the *Dates apply to* choice in Chromium. Every option of the form
    reads in a person's words (no stored word: `period` read "Period"); a basis the
    dataset does not take is refused beside the field in those words; and the
    payments recorded today, whatever day their money is dated, download as CSV."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        today = office_date(utcnow())
        # Issued ten days ago, its wire received five days ago, recorded today.
        invoice = issue(vendor.organization_id or 0, "500.00", today - timedelta(days=10))
        number, received = invoice.number, today - timedelta(days=5)
        paid_offline(invoice.id, "500.00", "WIRE-39", received_on=received)
        staff = factories.make_staff(db.session(), roles=("billing",))
    sign_in_on_the_form(page, staff.email)
    page.get_by_role("link", name="Exports").click()
    # The page's deferred script narrows the choices: a pick made before the page
    # has loaded would reach no listener (a whole CI on record failed so).
    page.wait_for_url("**/console/exports")

    dates = page.get_by_label("Dates apply to")
    offered = dates.locator("option").all_inner_texts()
    assert offered == [
        "The dataset's usual date",
        "Issue date",
        "Paid date",
        "Period covered (term, report period or month earned)",
        "Day returned (reversals)",
        "Day recorded or changed (nightly pulls)",
    ]
    for field in ("Dataset", "Format", "Dates apply to", "State", "Use"):
        for text in page.get_by_label(field, exact=True).locator("option").all_inner_texts():
            assert "_" not in text, (field, text)

    # Credit notes are dated by issue only: since round 42 the page offers no other
    # basis for them (a pick the server refuses is walked without scripts below).
    page.get_by_label("Dataset").select_option(label="Credit notes")
    assert _offered(page, "Dates apply to") == ["The dataset's usual date", "Issue date"]

    page.get_by_label("Dataset").select_option(label="Payments")
    page.get_by_label("Dates apply to").select_option(
        label="Day recorded or changed (nightly pulls)"
    )
    page.get_by_label("From", exact=True).fill(today.isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    rows = _downloaded(page, tmp_path, "payments")
    assert [(r["invoice_number"], r["state"], r["amount"], r["paid_date"]) for r in rows] == [
        (number, "succeeded", "500.00", received.isoformat())
    ]


def _choose_by_keyboard(page: Any, field: str, label: str) -> None:
    """`label` chosen in the focused `field` with the arrow keys alone."""
    select = page.get_by_label(field, exact=True)
    offered = _offered(page, field)
    assert label in offered, (field, label, offered)
    select.focus()
    at = select.evaluate("select => select.selectedIndex")
    key = "ArrowDown" if offered.index(label) > at else "ArrowUp"
    for _ in range(abs(offered.index(label) - at)):
        page.keyboard.press(key)
    assert select.evaluate("select => select.options[select.selectedIndex].text") == label


def test_each_dataset_offers_only_its_own_dates_and_states_at_phone_width_by_keyboard(
    page: Any, browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    """Round 42: the page offered every dataset's states and date bases, and a wrong
    pick was refused only after Export. Choosing a dataset now leaves only its own;
    a choice the new dataset does not take goes back to the first option, and a note
    beside the field says so. At phone width, by keyboard; the export then
    downloads. Without scripts every value is offered and the server refuses a wrong
    pick beside the field, naming the values the dataset takes."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        today = office_date(utcnow())
        invoice = issue(vendor.organization_id or 0, "500.00", today - timedelta(days=10))
        number = invoice.number
        paid_offline(invoice.id, "500.00", "WIRE-42", received_on=today)
        staff = factories.make_staff(db.session(), roles=("billing",))
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, staff.email)
    page.goto("/console/exports")
    every_basis = _offered(page, "Dates apply to")
    assert len(every_basis) == 6
    every_state = _offered(page, "State")

    _choose_by_keyboard(page, "Dataset", "Refunds")
    assert _offered(page, "State") == ["Any", "failed", "pending", "succeeded"]
    # Round 54: a refund the card's bank returns is dated on its day (by=reversed).
    assert _offered(page, "Dates apply to") == [
        "The dataset's usual date",
        "Paid date",
        "Day returned (reversals)",
        "Day recorded or changed (nightly pulls)",
    ]
    _choose_by_keyboard(page, "Dates apply to", "Day recorded or changed (nightly pulls)")
    _choose_by_keyboard(page, "State", "succeeded")

    # Credit notes are dated by issue only and have no states: both choices go back.
    _choose_by_keyboard(page, "Dataset", "Credit notes")
    assert _offered(page, "Dates apply to") == ["The dataset's usual date", "Issue date"]
    assert _offered(page, "State") == ["Any"]
    assert page.get_by_label("Dates apply to", exact=True).input_value() == ""
    assert page.get_by_label("State", exact=True).input_value() == ""
    assert page.locator("#by-offered").inner_text() == (
        "Credit notes does not take Day recorded or changed (nightly pulls): "
        "The dataset's usual date is chosen instead."
    )
    # Round 44: credit notes have no state at all, so the field is disabled and its
    # note says why in the server's words (before: "Credit notes does not take
    # succeeded: Any is chosen instead.", the field left open with Any alone).
    assert page.locator("#state-offered").inner_text() == (
        "The Credit notes export does not filter by State "
        "(it takes From, To, Dates apply to, Organization, Currency)."
    )
    assert page.get_by_label("State", exact=True).is_disabled()
    page.wait_for_function(FITS)
    assert_accessible(page)

    # Payments, recorded today, downloaded by keyboard: the note clears.
    _choose_by_keyboard(page, "Dataset", "Payments")
    assert page.locator("#by-offered").inner_text() == ""
    assert "reversed" in page.get_by_label("State", exact=True).evaluate(
        "select => Array.from(select.options, option => option.value).join(' ')"
    )
    _choose_by_keyboard(page, "Dates apply to", "Day recorded or changed (nightly pulls)")
    page.get_by_label("From", exact=True).fill(today.isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Export").focus()
    with page.expect_download() as caught:
        page.keyboard.press("Enter")
    target = tmp_path / "payments.csv"
    caught.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(r["invoice_number"], r["amount"]) for r in rows] == [(number, "500.00")]
    page.wait_for_function(FITS)

    # A link with a pick the dataset does not take (a bookmark, the API's words) is
    # refused by the server, and the script leaves the pick beside its message.
    page.goto("/console/exports?dataset=credit_notes&by=recorded")
    assert page.locator("#by-error").inner_text() == "Must be one of: Issue date."
    assert page.get_by_label("Dates apply to", exact=True).input_value() == "recorded"

    # Without scripts: every value offered, and a wrong pick refused in place.
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 375, "height": 740}
    )
    plain = context.new_page()
    sign_in(plain, staff.email)
    plain.goto("/console/exports")
    assert _offered(plain, "Dates apply to") == every_basis
    plain.get_by_label("Dataset").select_option(label="Refunds")
    assert _offered(plain, "State") == every_state
    plain.get_by_label("State", exact=True).select_option(label="void")
    plain.get_by_role("button", name="Export").click()
    assert plain.locator("#state-error").inner_text() == (
        "Must be one of: pending, succeeded, failed."
    )
    # Credit notes are dated by issue only: refused beside the field, in its words
    # (round 39's walk, with scripts).
    plain.get_by_label("Dataset").select_option(label="Credit notes")
    plain.get_by_label("State", exact=True).select_option(label="Any")
    plain.get_by_label("Dates apply to").select_option(
        label="Day recorded or changed (nightly pulls)"
    )
    plain.get_by_role("button", name="Export").click()
    assert plain.locator("#by-error").inner_text() == "Must be one of: Issue date."
    assert "Dates apply to" in plain.locator(".error-summary").inner_text()
    # The page shown again keeps the refused pick beside its message.
    assert plain.get_by_label("Dates apply to").input_value() == "recorded"
    context.close()


INVOICES_TAKE = (
    "(it takes From, To, Dates apply to, Organization, State, Currency, Balances as of)."
)


def test_a_field_the_dataset_does_not_take_is_disabled_with_why_at_phone_width_by_keyboard(
    page: Any, browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    """Round 44: Use and the receivables' *As of* were offered for every dataset (a
    pick refused only after Export). A field the chosen dataset does not take is now
    emptied and disabled, the note beside it (its description) saying why in the
    server's refusal's words; the keyboard passes over it, a screen reader reads it
    with its reason, and it is not sent. Without scripts every field is offered and
    the server refuses a pick beside the field, as before."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        today = office_date(utcnow())
        invoice = issue(vendor.organization_id or 0, "500.00", today - timedelta(days=10))
        number = invoice.number
        staff = factories.make_staff(db.session(), roles=("billing",))
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, staff.email)
    page.goto("/console/exports")
    use, as_of = page.get_by_label("Use", exact=True), page.get_by_label("Balances as of")
    # No dataset chosen: every field.
    assert use.is_enabled()
    assert as_of.is_enabled()

    # Invoice lines take a use: picked by keyboard.
    _choose_by_keyboard(page, "Dataset", "Invoice lines")
    assert use.is_enabled()
    assert as_of.is_disabled()
    assert page.locator("#as_of-offered").inner_text() == (
        "The Invoice lines export does not filter by Balances as of "
        "(it takes From, To, Dates apply to, Organization, State, Currency, Use, "
        "Kind of line (Finance page), Product type, User type, Organization type)."
    )
    _choose_by_keyboard(page, "Use", use_words("development"))

    # Invoices take none: the use goes, the field is disabled and says why.
    _choose_by_keyboard(page, "Dataset", "Invoices")
    assert use.is_disabled()
    assert use.input_value() == ""
    note = f"The Invoices export does not filter by Use {INVOICES_TAKE}"
    assert page.locator("#use-offered").inner_text() == note
    assert "use-offered" in (use.get_attribute("aria-describedby") or "").split()
    assert (
        page.get_by_role("combobox", name="Use", exact=True).evaluate(
            "select => select.labels[0].textContent"
        )
        == "Use"
    )
    # Tab from Currency passes over Use to Balances as of (round 59: the invoices take
    # it), then through its parts to Export.
    page.get_by_label("Currency", exact=True).focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "as_of"
    for _part in range(5):  # a date field's month, day and year take a Tab each
        if page.evaluate("() => document.activeElement.id") != "as_of":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Export"
    page.wait_for_function(FITS)
    assert_accessible(page)
    # Receivables take an As of and no use, and no state: each says so.
    _choose_by_keyboard(page, "Dataset", "Accounts receivable (aging)")
    assert as_of.is_enabled()
    assert page.locator("#as_of-offered").inner_text() == ""
    assert page.get_by_label("State", exact=True).is_disabled()
    assert use.is_disabled()
    # Back to Invoices, downloaded by keyboard: the disabled Use is not sent.
    _choose_by_keyboard(page, "Dataset", "Invoices")
    page.get_by_role("button", name="Export").focus()
    with page.expect_download() as caught:
        page.keyboard.press("Enter")
    target = tmp_path / "invoices.csv"
    caught.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["invoice_number"] for r in rows] == [number]

    # Without scripts: every field offered, and a use refused beside the field.
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 375, "height": 740}
    )
    plain = context.new_page()
    sign_in(plain, staff.email)
    plain.goto("/console/exports")
    plain.get_by_label("Dataset").select_option(label="Invoices")
    assert plain.get_by_label("Use", exact=True).is_enabled()
    plain.get_by_label("Use", exact=True).select_option(label=use_words("development"))
    plain.get_by_role("button", name="Export").click()
    assert plain.locator("#use-error").inner_text() == note
    assert plain.locator("#use-offered").inner_text() == ""
    context.close()
