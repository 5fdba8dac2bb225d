"""Every browser test also watches for Content-Security-Policy violations.

Chromium reports a blocked script, style, frame or connection as a console
error ("Refused to ... because it violates the following Content Security
Policy directive") and fires a `securitypolicyviolation` event in the page; a
test during which either happened fails at teardown, naming what was blocked.
So a page that gains an inline script, an inline style or a CDN asset fails
the journey test that visits it.

Below the fixture, the steps many journeys take to arrange what they test: the
people, an active agreement, an invoiced vendor, a tab signed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.billing.models import Invoice, Payment
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.mail import services as outbox
from licensing.permissions import commands as permission_commands
from licensing.permissions import services as permissions
from licensing.ratecards import cli as ratecards_cli
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.billing.stripe_support import flagged_card_payment
from tests.integration.permissions.conftest import last_mail
from tests.integration.pricing.conftest import card_document, example_document
from tests.integration.royalties.conftest import SOFTWARE
from tests.support import factories
from tests.support.agreements import accept, agreement_of, make_active_agreement
from tests.support.card_years import CardYears
from tests.support.navigation import arrive, follow
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer, LocalStripe, SMTPServer, message_text
from tests.support.settings import delivery, issuing, permission_sla_days

# Runs in every document before the page's own scripts.
_LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`
  );
});
"""


def listen_for_csp_violations(page: Any) -> list[str]:
    """The Content-Security-Policy violations `page` meets from now on (console
    messages and events), as a list that grows as they come: the `page` fixture's
    watch, for a tab of a walk's own (round 68: the accessibility sweep's, which stands
    for test_security_headers.py's walk of every person's pages)."""
    seen: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    def on_event(text: str) -> None:
        seen.append(text)

    page.on("console", on_console)
    page.expose_function("__reportCspViolation", on_event)
    page.add_init_script(_LISTEN)
    return seen


@pytest.fixture(autouse=True)
def csp_violations(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """The violations seen so far in this test's `page` (console messages and
    events). A test that opens only tabs of its own (`signed_in_tab`) asks for no
    `page`, and none is opened for it (round 63: one was, and closed unused, in a
    quarter of the browser tests: half a second each of a renderer started for
    nothing)."""
    if "page" not in request.fixturenames:
        yield []
        return
    seen = listen_for_csp_violations(request.getfixturevalue("page"))
    yield seen
    assert not seen, "Content-Security-Policy violations:\n" + "\n".join(seen)


@pytest.fixture(autouse=True)
def card_outcome_asked_often(request: pytest.FixtureRequest) -> None:
    """The pay page asks a card payment's outcome every quarter second, not every
    three (`templates/billing/pay.html`): localstripe's webhook settles a payment a
    second after it is sent, and each payment waited for the page's next question,
    some two seconds of every card paid in a walk (round 63). The page still
    follows the payment by itself, as often as it is told."""
    if "live_server" in request.fixturenames:
        live_server: LiveServer = request.getfixturevalue("live_server")
        live_server.app.config["CARD_STATUS_POLL_MS"] = 250


# --- arranging a journey ---------------------------------------------------------


def vendor_and_staff(live_server: LiveServer, *, example: bool = True) -> tuple[Any, Any]:
    """The contract's example card published (2027's alone; not with `example=False`,
    beside `card_years`), a vendor (Samira Haddad) and a licensing officer."""
    with live_server.app.app_context():
        if example:
            ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor = factories.make_vendor(session, full_name="Samira Haddad")
        staff = factories.make_staff(session, roles=("licensing",))
        session.commit()
        return vendor, staff


def card_of_a_year(version: str, first: date, last: date, **changes: Any) -> dict[str, Any]:
    """The contract's example card (its rules and prices) moved to `first`..`last` as
    `version`, with `changes`: a card around the office's today (the example is 2027's
    alone, so a test on it runs out with 2027)."""
    return card_document(
        **{
            "version": version,
            "title": f"Royalty schedule from {first}",
            "effective_from": first.isoformat(),
            "effective_to": last.isoformat(),
            **changes,
        }
    )


@pytest.fixture
def card_years(live_server: LiveServer) -> CardYears:
    """This year's card published: the example's rules over a year that ends a month
    from the office's today (`CardYears`, the office week walk's), so its agreements
    are renewals coming due, and a renewal's term is next year's card's whole period
    (`years.next_from` to `years.next_to`, left for the test to publish, or not) on
    any day the suite runs (round 49: a test on the 2027 card failed from 2028)."""
    years = CardYears.around(office_date(utcnow()))  # the office's day, as the service's
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(years.this_version, years.this_from, years.this_to),
            published_by="tests",
        )
    return years


def admin_with_sample_cards(live_server: LiveServer) -> str:
    """The sample cards (2026.1, 2027.1) published, and an admin's email."""
    with live_server.app.app_context():
        ratecards_cli.load_samples()
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
        return str(admin.email)


def check_card_on_page(page: Any, email: str, card: Path) -> None:
    """The admin `email` signed in, checking the card file `card` without
    publishing it, on the rate cards page; the check's answer loaded."""
    sign_in(page, email)
    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    page.get_by_role("button", name="Check without publishing").click()
    page.wait_for_load_state()


def reporting_vendor(live_server: LiveServer) -> tuple[str, Agreement, ReportingYear]:
    """A vendor whose agreement (per end user, reported quarterly) is active: their
    email, the agreement and its year. The year is next year's card's, a month from
    the office's today (`ReportingYear`), so a test reports its periods by travelling
    forward (round 50: the 2027 agreement's quarters were a travel back from April
    2027, where Chromium drops the session cookie)."""
    year = ReportingYear.around(office_date(utcnow()))
    first, last = year.term
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(year.years.next_version, first, last), published_by="tests"
        )
        session = db.session()
        vendor = factories.make_vendor(session)
        staff = factories.make_staff(session, roles=("licensing",))
        agreement = make_active_agreement(vendor, staff, SOFTWARE, term=year.term)
        return vendor.email, agreement, year


def invoiced_vendor(live_server: LiveServer, amounts: tuple[str, ...]) -> tuple[str, Invoice]:
    """A vendor of a new organization invoiced `amounts` (sent): their email and
    the invoice."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, amounts))
        assert invoice is not None
        return vendor.email, invoice


def accepted_agreement(vendor: Any, application_draft: Any) -> Agreement:
    """`application_draft` applied for by `vendor`, approved at submission and
    accepted (inside the live server's app context)."""
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(Actor.of(principal), application_draft)
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
    return accept(agreement_of(application), vendor, signer_name="Samira Haddad")


GOOD_CARD = "4242424242424242"  # localstripe: a Visa it charges


def card_fields(number: str) -> tuple[tuple[str, str], ...]:
    """localstripe's card Element's fields (by placeholder), each with what goes in
    it: the card `number`, and an expiry, CVC and ZIP every test card takes."""
    return (
        ("number", number),
        ("exp_month", "12"),
        ("exp_year", "30"),
        ("cvc", "123"),
        ("postal_code", "97201"),
    )


def fill_card(page: Any, number: str = GOOD_CARD) -> None:
    """The pay page's card Element filled in with card `number`."""
    for placeholder, value in card_fields(number):
        page.get_by_placeholder(placeholder).fill(value)


_CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def sign_in(page: Any, email: str, password: str = factories.DEFAULT_PASSWORD) -> None:
    """`email` signed in (with the factories' password, or `password`) for a test whose steps are
    not about signing in: the sign-in form's token fetched and the form's fields
    posted to it, as the browser sends them, by the tab's own request context, whose
    cookies are the tab's. The session is the one the form starts; the tab is left
    where it was, so the next step opens its page (`page.goto`).

    The form drawn, typed in and its landing page drawn cost about a second a
    sign-in on a loaded machine, at some 170 call sites of the browser tier (round 63).
    A test about signing in, or reading the page it lands on, takes
    `sign_in_on_the_form`."""
    form = page.request.get("/sign-in")
    token = _CSRF_TOKEN.search(form.text())
    assert token is not None, form.text()[:2000]
    answer = page.request.post(
        "/sign-in",
        form={"csrf_token": token.group(1), "email": email, "password": password},
        max_redirects=0,
    )
    assert answer.status == 302, answer.text()[:2000]
    # Not sent on to a second step (a code): a test of that signs in on the form.
    assert "/sign-in" not in answer.headers["location"], answer.headers["location"]


def sign_in_on_the_form(page: Any, email: str) -> None:
    """`email` signed in on the sign-in page (with the factories' password), as a
    person does: the page the form lands on loaded."""
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    # The navigation the button starts, waited for to its `load` (round 64): a wait
    # for the load state alone is met by the sign-in page, had the click come back
    # before the navigation began.
    arrive(page, page.get_by_role("button", name="Sign in"))


def signed_in_tab(
    browser: Any,
    live_server: LiveServer,
    email: str,
    width: int | None = None,
    *,
    on_the_form: bool = False,
) -> Any:
    """A tab of a browser context of its own, signed in as `email`: another person
    beside the test's `page` (`width` pixels wide and 800 high, where given). Its
    session is `sign_in`'s, and the tab blank; with `on_the_form=True` it signed in
    on the sign-in page and shows where that landed (`sign_in_on_the_form`)."""
    options: dict[str, Any] = {"base_url": live_server.url}
    if width is not None:
        options["viewport"] = {"width": width, "height": 800}
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    if on_the_form:
        sign_in_on_the_form(tab, email)
    else:
        sign_in(tab, email)
    return tab


# --- a new vendor's walks (rounds 36 and 51) -------------------------------------------


@dataclass(frozen=True)
class NewVendor:
    """Who signs up on a walk: the organization, its billing contact and its first user."""

    legal_name: str
    street: str
    city: str
    region: str
    postal_code: str
    billing_name: str
    billing_email: str
    full_name: str
    email: str
    password: str

    def sign_in_again(self, page: Any) -> None:
        """Signed in again where a travel forward ended the session."""
        if "/sign-in" in page.url:
            page.get_by_label("Email address").fill(self.email)
            page.get_by_label("Password").fill(self.password)
            arrive(page, page.get_by_role("button", name="Sign in"))

    def waiting(self, page: Any) -> str:
        """The dashboard's "What is waiting on whom", opened afresh, in one line."""
        page.goto("/portal/")
        self.sign_in_again(page)
        return one_line(page.locator("main table").first.inner_text())

    def sign_up(self, page: Any) -> None:
        """The sign-up form (reached from an estimate's *Apply*) filled and sent."""
        page.get_by_label("Legal name of the organization").fill(self.legal_name)
        page.get_by_label("Type of organization").select_option("commercial")
        page.get_by_label("Address", exact=True).fill(self.street)
        page.get_by_label("City").fill(self.city)
        page.get_by_label("State, province or region").fill(self.region)
        page.get_by_label("Postal code").fill(self.postal_code)
        page.get_by_label("Country").select_option("US")
        page.get_by_label("Billing contact name").fill(self.billing_name)
        page.get_by_label("Billing contact email").fill(self.billing_email)
        page.get_by_label("Your full name").fill(self.full_name)
        page.get_by_label("Your email address").fill(self.email)
        page.get_by_label("Password", exact=True).fill(self.password)
        page.get_by_label("Repeat the password").fill(self.password)
        page.get_by_role("button", name="Create the account").click()

    def pay_by_card(self, page: Any, balance: str) -> None:
        """The open invoice's page: paid by card (localstripe), its answer awaited."""
        page.get_by_role("link", name=f"Pay {balance} USD by card").click()
        self.sign_in_again(page)
        fill_card(page)
        page.get_by_role("button", name=f"Pay {balance} USD").click()
        page.locator("#payment-status").get_by_role("heading", name="Paid", exact=True).wait_for(
            timeout=20_000
        )


def estimate_software(page: Any, term: tuple[date, date], end_users: int, product: str) -> None:
    """The estimator, from the home page: a commercial company distributing a SaaS
    product to `end_users` provider users over `term`; the estimate's page loaded."""
    page.goto("/")
    page.get_by_role("link", name="Estimate your price").click()
    page.get_by_label("Your organization is").select_option("commercial")
    page.get_by_label("License term starts").fill(term[0].isoformat())
    page.get_by_label("License term ends").fill(term[1].isoformat())
    page.locator("#uses-0-use").select_option("distribution")
    page.locator("#uses-0-product_type").select_option("saas")
    page.locator("#uses-0-user_type").select_option("provider")
    page.locator("#uses-0-quantity-end_users").fill(str(end_users))
    page.locator("#uses-0-description").fill(product)
    follow(page, "button", "Estimate the price")  # as said: loaded, not only begun


def reviewed_software_card(live_server: LiveServer, version: str, first: date, last: date) -> None:
    """The contract's example card moved to `first`..`last` as `version` published,
    its per-end-user software rule reviewed by staff (a new vendor's walks)."""
    document = card_of_a_year(version, first, last)
    for rule in document["rules"]:
        if rule["id"] == "distribution-software":
            rule["review"] = "staff"
    with live_server.app.app_context():
        ratecards.import_card(document, published_by="tests")


def upload_from_template(
    page: Any, report: Path, rows: str, *, below_the_template: bool = False
) -> str:
    """On a period's page: its template downloaded (its text returned), `rows` (CSV
    lines after the header, or with `below_the_template` after the template's own
    rows, left as drawn: round 66) written to `report` and uploaded, and the royalty
    previewed."""
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the template for this period").click()
    template = Path(download.value.path()).read_text(encoding="utf-8")
    kept = template if below_the_template else f"{template.splitlines()[0]}\n"
    report.write_text(f"{kept}{rows}")
    upload = page.locator("#report-csv")
    upload.get_by_label("CSV file").set_input_files(report)
    arrive(page, upload.get_by_role("button", name="Preview the royalty"))
    return template


def submit_the_upload(page: Any) -> None:
    """The previewed file attested and submitted."""
    upload = page.locator("#report-csv")
    upload.get_by_label("I attest").check()
    arrive(page, upload.get_by_role("button", name="Attest and submit the file"))


def newest_mail(mailbox: SMTPServer, address: str, subject: str, containing: str = "") -> str:
    """The text of the newest email to `address` whose subject has `subject` (and
    whose text has `containing`), in one line, waiting for it (the outbox sends after
    the request: an older email of the same subject may be there first)."""

    def newest() -> str | None:
        found = [
            text
            for m in mailbox.to(address)
            if subject in str(m["Subject"]) and containing in (text := one_line(message_text(m)))
        ]
        return found[-1] if found else None

    # Looked for as each email arrives: a poll every 0.2 s waited 0.1 s a mail.
    found = mailbox.when(newest)
    if found is None:
        raise AssertionError(f"no email to {address} about {subject!r} with {containing!r}")
    return found


def wired(browser: Any, live_server: LiveServer, clerk: str, number: str, amount: str) -> None:
    """Billing staff (`clerk`) record a wire of `amount` for invoice `number` on its
    console page, in a browser of their own."""
    console = signed_in_tab(browser, live_server, clerk)
    console.goto("/console/invoices")
    console.get_by_role("link", name=number).click()
    form = console.get_by_role("region", name="Record an offline payment")
    form.get_by_label("Method").select_option("wire")
    form.get_by_label("Amount", exact=True).fill(amount)
    form.get_by_label("Reference", exact=True).fill(f"FEDWIRE {number}")
    form.get_by_role("button", name="Record payment").click()
    console.get_by_text(re.compile("Recorded a wire transfer of")).wait_for()
    console.context.close()


# --- a teacher's educational request (rounds 40 and 42) ------------------------------
TEACHER = "maya.okafor@northfield-university.example"
SEMESTER = "The fall semester"  # the duration the teacher types: words, no days


def one_line(text: str) -> str:
    return " ".join(text.split())


def course_term() -> tuple[date, date]:
    """The teacher's course: a semester from the first Monday four weeks or more after
    the office's today to the Friday sixteen weeks on (as 2027-08-23 to 2027-12-17
    was), so its first day is never past. Written in, the request was refused from 24
    August 2027 ("The first day has passed"), round 47."""
    today = office_date(utcnow())
    first = today + timedelta(days=28 + (-(today.weekday() + 28)) % 7)
    return first, first + timedelta(days=116)


def course_on_a_card(live_server: LiveServer) -> tuple[date, date]:
    """The course's days (`course_term`), with the contract's example card moved to
    them published (the example is 2027's alone)."""
    first, last = course_term()
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(
                f"{first.year}.9",
                first,
                last,
                title=f"Royalty schedule for the course from {first}",
            ),
            published_by="tests",
        )
    return first, last


def estimate_the_course(page: Any, live_server: LiveServer) -> tuple[date, date]:
    """The teacher's course estimated on the public estimator, on its days
    (`course_on_a_card`). The estimate's page loaded; the course's days returned."""
    first, last = course_on_a_card(live_server)
    page.goto("/")
    page.get_by_role("link", name="Estimate your price").click()
    page.get_by_label("Your organization is").select_option("academic")
    page.get_by_label("License term starts").fill(first.isoformat())
    page.get_by_label("License term ends").fill(last.isoformat())
    page.locator("#uses-0-use").select_option("education")
    page.locator("#uses-0-product_type").select_option("print")
    page.locator("#uses-0-user_type").select_option("academic")
    page.locator("#uses-0-quantity-copies").fill("60")
    page.locator("#uses-0-description").fill("Handouts for HIM 310, Coding and classification")
    page.get_by_role("button", name="Estimate the price").click()
    page.locator("#routed").wait_for()  # the estimate's page, loaded (not mid-navigation)
    return first, last


def fill_the_request(page: Any, purpose: str, detail: str) -> None:
    page.get_by_label("Your name").fill("Dr. Maya Okafor")
    page.get_by_label("Your email address").fill(TEACHER)
    page.get_by_label("Institution", exact=True).fill("Northfield University")
    page.get_by_label("Your role").select_option("faculty")
    page.get_by_label("Type of institution").select_option("academic")
    page.get_by_label("Purpose", exact=True).select_option(purpose)
    page.get_by_label("Describe the purpose").fill(detail)
    page.get_by_label("Content requested").fill("The section guidelines for surgery.")
    page.get_by_label("Medium").select_option("print")
    page.get_by_label("Audience size").fill("60")
    page.get_by_label("Duration of the use").fill(SEMESTER)
    page.get_by_label("I confirm that the use is non-commercial").check()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/permissions/request/sent")


def requested_by_service(
    live_server: LiveServer, purpose: str, detail: str, term: tuple[date, date] | None = None
) -> tuple[str, str]:
    """The teacher's request as `fill_the_request` sends it (with the days of the use
    `term`, as the estimate's link fills them in), confirmed from the link its email
    carries, made through the services the form and the link call: its reference and
    its status page's path. Round 68: for a walk whose point comes after; the
    estimate's link, the form and the confirmation are walked on their pages by
    test_permissions_officer_week.py, test_permission_journey.py and the others."""
    first, last = term or (None, None)
    given = permission_commands.PermissionRequestInput(
        requester_name="Dr. Maya Okafor",
        requester_email=TEACHER,
        institution="Northfield University",
        role="faculty",
        organization_type="academic",
        purpose=purpose,
        purpose_detail=detail,
        content_requested="The section guidelines for surgery.",
        medium="print",
        audience_size=60,
        duration=SEMESTER,
        noncommercial=True,
        use_from=first,
        use_until=last,
    )
    with live_server.app.app_context():
        created = permissions.submit_request(given)
        link = re.search(r"/permissions/confirm/(\S+)", last_mail(TEACHER).body_text)
        assert link is not None, created.reference
        confirmed = permissions.confirm_email(link.group(1), sla_days=permission_sla_days())
        # Its emails sent, as the form's and the link's requests send theirs.
        outbox.deliver_due(delivery())
        return confirmed.reference, f"/permissions/status/{permissions.status_token(confirmed)}"


def newest_mail_to_teacher(mailbox: SMTPServer, subject: str, after: int = 0) -> str:
    """The newest email to the teacher whose subject starts `subject`, among those
    after the first `after` they received, waiting for it to arrive."""

    def newest() -> str | None:
        for message in reversed(mailbox.to(TEACHER)[after:]):
            if str(message["Subject"]).startswith(subject):
                return one_line(message_text(message))
        return None

    found = mailbox.when(newest)  # as each email arrives, not on a clock
    if found is None:
        raise AssertionError(f"no email {subject!r} to {TEACHER}")
    return found


def flagged_on_live_server(
    live_server: LiveServer, localstripe: LocalStripe
) -> tuple[Any, User, Invoice, Payment]:
    """A vendor's 300.00 invoice paid by card by a colleague of the billing contact,
    flagged for 299.99 received (Stripe's success delivered signed); the webhook's
    test client, the payer, the invoice and the payment (rounds 37 and 48)."""
    contact = factories.make_vendor(db.session())
    organization = db.session().get(Organization, contact.organization_id)
    vendor = factories.make_vendor(db.session(), organization, role="billing")

    def invoice_for(owner: Any, amounts: tuple[str, ...]) -> Invoice:
        invoice = send_activation(activated(owner.organization_id or 0, amounts))
        assert invoice is not None
        return invoice

    webhook = live_server.app.test_client()  # Stripe's deliveries, signed
    invoice, payment = flagged_card_payment(
        webhook, vendor, localstripe, invoice_for, received=29999
    )
    return webhook, vendor, invoice, payment


# --- a term already over (rounds 49 and 50) -------------------------------------------


def past_term_draft(
    live_server: LiveServer, card: dict[str, Any], term: tuple[date, date]
) -> tuple[User, User, int]:
    """`card` imported, a vendor (Samira Haddad) with a draft of the automatic use for
    `term`, and a licensing officer: (vendor, staff, the draft's id)."""
    with live_server.app.app_context():
        ratecards.import_card(card, published_by="tests")
        session = db.session()
        vendor = factories.make_vendor(session, full_name="Samira Haddad")
        staff = factories.make_staff(session, roles=("licensing",))
        session.commit()
        application = agreements.create_draft(
            Actor.of(accounts.principal_for(vendor)),
            agreements.ApplicationDraft.from_fields(
                {"term_start": term[0], "term_end": term[1], "uses": [AUTO_USE]}
            ),
        )
        return vendor, staff, application.id
