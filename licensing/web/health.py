"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from licensing import access, db

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@access.public
def healthz():  # type: ignore[no-untyped-def]
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.route("/readyz")
@access.public
def readyz():  # type: ignore[no-untyped-def]
    """The database answers: this instance can take traffic."""
    # A bare DBAPI round trip: no transaction, so no lock to wait for.
    engine = db.database().engine
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        finally:
            connection.close()
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error):
        current_app.logger.exception("readiness check: database unreachable")
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
