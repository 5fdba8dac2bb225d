"""Server-rendered pages: the public site, the vendor portal and the staff console.

The toolkit every feature's pages share (navigation, filters, paging, forms, the
portal's and the console's registries, error pages), below the features: it
imports none of them. `register(app)` installs what is shared, including the error
handling of pages and the API (problem documents under /api/, HTML pages
elsewhere); `licensing.app.register_blueprints` lists the blueprints.
"""

from __future__ import annotations

from flask import Flask

from licensing import access
from licensing.web import errors, filters, navigation, organization_records, records


def register(app: Flask) -> None:
    # Flask's own static route serves the stylesheet, scripts and icons.
    access.declare_endpoint("static", access.Access(public=True))
    errors.register(app)
    filters.register(app)
    navigation.register(app)
    organization_records.register(app)
    records.register(app)
