"""Public pages: what the licensing office offers and how to start."""

from __future__ import annotations

from flask import Blueprint, render_template

from licensing import access

bp = Blueprint("public", __name__)


@bp.route("/")
@access.public
def home() -> str:
    return render_template("public/home.html")
