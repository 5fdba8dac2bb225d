"""The endpoints the README and docs name are the app's (round 50): an integrator
reads them before the OpenAPI document. Every operation of the document is in
docs/api.md's table ("Every operation") and every row of that table is in the
document; every route under /api/v1 is in the document; and every endpoint the
README or a page of docs/ names (`GET /api/v1/...`, a page's `POST /console/...`)
is a route of the app."""

from __future__ import annotations

import re

from flask import Flask

from licensing.config import PROJECT_ROOT

METHODS = {"get", "post", "put", "patch", "delete"}
# Served under /api/v1 but not operations: the document itself and Swagger UI.
NOT_OPERATIONS = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/assets/{filename}"}
# Stripe's own API, which docs/billing.md quotes (`POST /v1/refunds`).
ELSEWHERE = ("/v1/",)

DOCUMENTS = [PROJECT_ROOT / "README.md"] + [
    path for path in sorted((PROJECT_ROOT / "docs").glob("*.md")) if path.name != "journeys.md"
]
# journeys.md is the record of past rounds: it names endpoints as they were then.


def _operations(app: Flask) -> set[tuple[str, str]]:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def _rule_path(rule: str) -> str:
    """A URL rule as the OpenAPI document writes it: `<int:id>` is `{id}`."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, _rule_path(rule.rule))
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def _tabled(text: str) -> set[tuple[str, str]]:
    """docs/api.md's "Every operation" rows: (method, path)."""
    table = text.split("## Every operation (round 50)", 1)[1]
    return set(re.findall(r"^\| `([A-Z]+)` \| `(/api/v1[^`]*)` \|", table, flags=re.MULTILINE))


def named_endpoints(text: str) -> list[tuple[str, str]]:
    """Every `METHOD /path` written in `text`, its query and trailing punctuation dropped."""
    found = []
    for method, path in re.findall(
        r"\b(GET|POST|PUT|PATCH|DELETE) (/(?:\{[^}\n]*\}|[^\s`,){])*)", text
    ):
        path = path.split("?")[0].split("#")[0].rstrip(".;:")
        if "..." not in path and not path.startswith(ELSEWHERE):
            found.append((method, path))
    return found


def _pattern(path: str) -> re.Pattern[str]:
    """A route's path as a pattern: each `{name}` any one segment, a last `/` optional."""
    segments = re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(path.rstrip("/")))
    return re.compile(f"^{segments}/?$")


def unknown(named: list[tuple[str, str]], routes: set[tuple[str, str]]) -> list[str]:
    """The endpoints of `named` that no route answers. A route's `{id}` matches any
    segment (`/api/v1/users/42`); one written without `/api/v1` (docs/api.md's
    `POST /applications/{id}/return`) is looked for under it too."""
    patterns = [(method, _pattern(path)) for method, path in routes]
    missing = []
    for method, path in named:
        # A placeholder written in the docs ({id}, ID, 42) is a segment of any text.
        written = re.sub(r"\{[^}]*\}", "x", path).rstrip("/") or "/"
        candidates = (written, "/api/v1" + written)
        if not any(m == method and p.match(c) for m, p in patterns for c in candidates):
            missing.append(f"{method} {path}")
    return missing


def test_every_operation_of_the_document_is_in_the_docs_table_and_no_other(app: Flask) -> None:
    tabled = _tabled((PROJECT_ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    operations = _operations(app)
    assert sorted(operations - tabled) == [], "in the OpenAPI document, not in docs/api.md"
    assert sorted(tabled - operations) == [], "in docs/api.md, not in the OpenAPI document"


def test_every_route_under_the_api_is_an_operation_of_the_document(app: Flask) -> None:
    api_routes = {
        (method, path)
        for method, path in _routes(app)
        if path.startswith("/api/v1") and path not in NOT_OPERATIONS
    }
    assert sorted(api_routes - _operations(app)) == []


def test_every_operation_says_in_a_summary_what_it_does(app: Flask) -> None:
    """Sixteen reads showed in Swagger UI as a bare path (no docstring, no summary)."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    bare = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS and not operation.get("summary", "").strip()
    ]
    assert bare == []


def test_every_endpoint_the_readme_and_docs_name_is_a_route_of_the_app(app: Flask) -> None:
    routes = _routes(app)
    missing = {
        str(path.relative_to(PROJECT_ROOT)): found
        for path in DOCUMENTS
        if (found := unknown(named_endpoints(path.read_text(encoding="utf-8")), routes))
    }
    assert missing == {}


def test_the_endpoint_check_finds_one_the_app_lacks(app: Flask) -> None:
    """What keeps the test above from passing on nothing."""
    text = (
        "`GET /api/v1/users/42`, `POST /users/{own id}/sign-out`, `GET /api/v1/exports/"
        "payments?by=recorded`, `POST /console/users`, `POST /api/v1/quotes/bulk`,"
        " `DELETE /api/v1/quotes`, `GET .../rows`, `POST /v1/refunds`."
    )
    assert named_endpoints(text) == [
        ("GET", "/api/v1/users/42"),
        ("POST", "/users/{own id}/sign-out"),
        ("GET", "/api/v1/exports/payments"),
        ("POST", "/console/users"),
        ("POST", "/api/v1/quotes/bulk"),
        ("DELETE", "/api/v1/quotes"),
    ]
    assert unknown(named_endpoints(text), _routes(app)) == [
        "POST /api/v1/quotes/bulk",
        "DELETE /api/v1/quotes",
    ]


def test_the_table_reader_reads_the_rows() -> None:
    text = (
        "## Every operation (round 50)\n\n| method | path | what | who |\n"
        "| --- | --- | --- | --- |\n"
        "| `GET` | `/api/v1/me` | The caller | any signed-in user |\n"
    )
    assert _tabled(text) == {("GET", "/api/v1/me")}
