"""Server-rendered pages: the public site, the vendor portal and the staff console.

`register(app)` lists every page blueprint once, and installs the error
handling shared by pages and the API (problem documents under /api/, HTML
pages elsewhere).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from licensing import access
from licensing.web import errors, filters, health, navigation, organization_records, public, records


def register(app: Flask) -> None:
    # Flask's own static route serves the stylesheet, scripts and icons.
    access.declare_endpoint("static", access.Access(public=True))
    errors.register(app)
    filters.register(app)
    navigation.register(app)
    organization_records.register(app)
    records.register(app)
    for blueprint in _blueprints():
        app.register_blueprint(blueprint)
    if app.config["LICENSING"].dev_mail_viewer:  # development only: absent otherwise
        from licensing.mail import viewer

        app.register_blueprint(viewer.bp)


def _blueprints() -> list[Blueprint]:
    from licensing.accounts import views as accounts_views
    from licensing.agreements import views as agreements_views
    from licensing.audit import views as audit_views
    from licensing.billing import views as billing_views
    from licensing.exports import views as exports_views
    from licensing.finance import views as finance_views
    from licensing.mail import views as mail_views
    from licensing.permissions import views as permissions_views
    from licensing.ratecards import views as ratecards_views
    from licensing.royalties import views as royalties_views
    from licensing.web import console, estimator, portal, profile

    return [
        health.bp,
        public.bp,
        estimator.bp,
        ratecards_views.bp,
        accounts_views.bp,
        accounts_views.console,
        portal.bp,
        profile.bp,
        console.bp,
        agreements_views.bp,
        agreements_views.console,
        audit_views.bp,
        mail_views.bp,
        billing_views.bp,
        billing_views.console,
        billing_views.documents_bp,
        billing_views.webhooks,
        exports_views.bp,
        finance_views.console,
        permissions_views.public,
        permissions_views.portal,
        permissions_views.console,
        royalties_views.bp,
    ]
