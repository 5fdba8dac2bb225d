"""Public pages: what the licensing office offers and how to start."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory
from werkzeug.wrappers import Response

from licensing import access
from licensing.config import current_config

bp = Blueprint("public", __name__)


@bp.route("/")
@access.public
def home() -> str:
    # The education section says what happens next, as the request form does.
    return render_template("public/home.html", sla_days=current_config().permission_sla_days)


@bp.route("/favicon.ico")
@access.public
def favicon() -> Response:
    # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (the API
    # documentation, a PDF, a download): the same icon, not a 404 in every log.
    static_folder = current_app.static_folder or "static"
    return send_from_directory(
        static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400
    )
