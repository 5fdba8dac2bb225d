"""Invoices, credit notes and payments: the service's record of what each licensee owes.

`init_app(app)` connects the receiver that invoices an agreement when it becomes
active (`licensing.signals.agreement_activated`) and the one that moves invoice
links to a changed billing contact (`billing_contact_changed`), and registers the vendor
dashboard's "waiting on whom" items; blueprints are listed in `licensing.app`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # views registers the dashboard provider as it is imported.
    from licensing.accounts import services as accounts
    from licensing.billing import bank_days, forms, letterhead, pdfs, receivers, seals, views
    from licensing.mail.models import register_kept_source
    from licensing.signals import (
        agreement_activated,
        billing_contact_changed,
        billing_contact_changing,
    )

    agreement_activated.connect(receivers.invoice_agreement, weak=False)
    billing_contact_changing.connect(receivers.lock_invoices, weak=False)
    billing_contact_changed.connect(receivers.move_invoice_links, weak=False)
    letterhead.init_app(app)  # the issuer and remit-to on documents and emails
    app.add_template_filter(forms.method_label, "payment_method")
    app.add_template_filter(forms.method_in_a_sentence, "payment_method_in_a_sentence")
    seals.register()  # invoices and credit notes are sealed as they are issued
    # Each invoice keeps its bank days after every flush that moves its money (round 62).
    bank_days.install()
    # An issuing email names the kept PDF; the outbox reads it when it sends (round 48).
    register_kept_source(pdfs.KEPT_SOURCE, pdfs.kept_bytes)
    accounts.register_overdue_check("invoices", receivers.overdue_invoices)
    accounts.register_open_business("money", receivers.open_money)
    # Who sends a refund, in one set of words for the vendor's pages and emails (round 53).
    app.jinja_env.globals["refunds_sent_by"] = views.REFUNDS_SENT_BY
