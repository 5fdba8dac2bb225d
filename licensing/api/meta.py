"""The API's front door: what the service is and where to go next."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from licensing import access
from licensing.api.base import API_PREFIX, Blueprint, never_answers
from licensing.api.fields import ApiSchema

blp = Blueprint("meta", __name__, description="About this API")


class IndexSchema(ApiSchema):
    service = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    documentation = ma.fields.String(required=True)
    openapi = ma.fields.String(required=True)


@blp.route("/")
@access.public
@never_answers(503, "it reads nothing from the database: its answer is fixed")
@blp.response(200, IndexSchema)
def index() -> dict[str, Any]:
    """Name, version and documentation links of the API."""
    return {
        "service": "CPT licensing and royalty service",
        "version": "v1",
        "documentation": f"{API_PREFIX}/docs",
        "openapi": f"{API_PREFIX}/openapi.json",
    }
