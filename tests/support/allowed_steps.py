"""Round 57: `allowed_actions` checked against the steps themselves, for one reader
of records in many states: every step listed is accepted when that reader takes
it (on a fresh record in the same state), every step not listed is refused (403 or
409) and changes nothing; round 58: a 409 of the record's state machine lists the
same steps as the record, read by the same reader. The record kinds' tests
(`tests/integration/*/test_allowed_actions_by_role.py`) give each state a builder
and each step route its request."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import ApiToken, Organization, User
from licensing.actors import Actor
from licensing.errors import NOTHING_YOU_MAY_DO
from tests.support import factories
from tests.support.factories import bearer

# What a reason, a message or an answer says where a step needs one.
WORDS = "Checked against the steps the reader may take (round 57)."

Body = Mapping[str, Any] | Callable[[Mapping[str, Any]], Mapping[str, Any]] | None


@dataclass(frozen=True)
class Attempt:
    """One step route's request: its path under the record's URL, its body (or one
    made from the record as read), and the steps of the record's machine it takes."""

    path: str
    steps: frozenset[str]
    body: Body = None

    def send(self, client: FlaskClient, url: str, headers: Mapping[str, str]) -> Any:
        body = self.body
        if callable(body):
            body = body(client.get(url, headers=dict(headers)).get_json())
        return client.post(
            url + self.path, json=dict(body) if body is not None else None, headers=dict(headers)
        )


def attempt(path: str, *steps: str, body: Body = None) -> Attempt:
    return Attempt(path, frozenset(steps), body)


@dataclass
class Reader:
    """Who reads the record: their request headers (an API token, or none for a
    link's holder) and what their `allowed_actions` said in each state."""

    name: str
    headers: Mapping[str, str]
    seen: dict[str, list[str]] = field(default_factory=dict)
    # What a 409 listed in each state where a refused step was the machine's (round 58).
    told: dict[str, list[str]] = field(default_factory=dict)


def token_reader(name: str, user: User, *, read_only: bool = False) -> Reader:
    """`user`'s API token, read and write unless `read_only`."""
    if not read_only:
        return Reader(name, bearer(user))
    token, secret = accounts.create_api_token(
        user.id, "read only", scope="read", actor=Actor.SYSTEM
    )
    with db.transaction() as session:
        session.get(ApiToken, token.id).expires_at = None  # tests travel in time
    return Reader(name, {"Authorization": f"Bearer {secret}"})


def check_state(
    client: FlaskClient,
    reader: Reader,
    state: str,
    build: Callable[[], str],
    attempts: Sequence[Attempt],
    *,
    field_name: str = "allowed_actions",
    state_field: str = "state",
) -> list[str]:
    """What `reader` is told of a record `build` makes in `state` (its URL), checked
    step by step: each step not listed is refused (403 or 409, nothing changed), and
    each listed one is accepted on a fresh record `build` makes. No step is listed
    that no route takes (the service's)."""
    url = build()
    read = client.get(url, headers=dict(reader.headers))
    assert read.status_code == 200, (reader.name, state, read.get_json())
    record = read.get_json()
    assert record[state_field] == state, (reader.name, state, record[state_field])
    listed: list[str] = record[field_name]
    routed = frozenset().union(*(a.steps for a in attempts))
    assert set(listed) <= routed, (reader.name, state, listed)
    for refused in (a for a in attempts if not a.steps & set(listed)):
        answer = refused.send(client, url, reader.headers)
        assert answer.status_code in (403, 409), (
            reader.name,
            state,
            refused.path,
            answer.status_code,
            answer.get_json(),
        )
        # Round 58: a 409 the state's machine answers lists what this reader may take,
        # as reading the record does (it listed every step the state allows).
        problem = answer.get_json()
        if answer.status_code == 409 and "allowed_actions" in problem:
            assert problem["allowed_actions"] == listed, (reader.name, state, refused.path)
            reader.told[state] = problem["allowed_actions"]
            # Round 58 (refusal58): and its sentence says those, not the state's.
            said = problem["detail"]
            if "it can only" in said:
                assert listed, (reader.name, state, refused.path, said)
                assert "of the steps you may take, it can only" in said, (reader.name, said)
            if NOTHING_YOU_MAY_DO in said:
                assert not listed, (reader.name, state, refused.path, said)
    again = client.get(url, headers=dict(reader.headers)).get_json()
    assert again[state_field] == state, (reader.name, state, "changed by a refused step")
    for taken in (a for a in attempts if a.steps & set(listed)):
        answer = taken.send(client, build(), reader.headers)
        assert answer.status_code in (200, 201, 202), (
            reader.name,
            state,
            taken.path,
            answer.status_code,
            answer.get_json(),
        )
    return listed


# Who reads a vendor's money records (invoices, payments, credit notes, refunds): a
# user of each of the organization's roles and the office's, and a read-only token.
READERS = (
    "administrator",
    "member",
    "billing member",
    "licensing staff",
    "billing staff",
    "admin",
    "read-only token",
)


class EveryRole:
    """`vendor`'s organization with a user of each role, and the office's staff: the
    `READERS`, and an admin's actor (`clerk`) to make records in each state."""

    def __init__(self, vendor: User, users: Mapping[str, int] | None = None) -> None:
        session = db.session()
        self.organization_id = vendor.organization_id
        self.users: dict[str, User]
        if users is not None:  # made once a module (`user_ids`), read in this test's session
            self.users = {name: session.get_one(User, user_id) for name, user_id in users.items()}
            self.clerk = Actor.of(accounts.principal_for(self.users["admin"]))
            return
        organization = session.get(Organization, vendor.organization_id)
        self.users = {
            "administrator": vendor,
            "member": factories.make_vendor(session, organization),
            "billing member": factories.make_vendor(session, organization, role="billing"),
            "licensing staff": factories.make_staff(session, roles=("licensing",)),
            "billing staff": factories.make_staff(session, roles=("billing",)),
            "admin": factories.make_staff(session, roles=("admin",)),
        }
        self.clerk = Actor.of(accounts.principal_for(self.users["admin"]))

    def reader(self, name: str) -> Reader:
        if name == "read-only token":
            return token_reader(name, self.users["admin"], read_only=True)
        return token_reader(name, self.users[name])

    def user_ids(self) -> dict[str, int]:
        return {name: user.id for name, user in self.users.items()}


# A record's name in a test, the state it is in, and what makes a fresh one so.
State = tuple[str, str, Callable[[], Any]]


@dataclass(frozen=True)
class Made:
    """A record a module made once, by its id (what `walk_states` reads of a record)."""

    id: int


def in_turn(ids: Sequence[int], fresh: Callable[[], Any] | None = None) -> Callable[[], Any]:
    """A state's builder made of records a module made once in that state (round 63):
    each call the next of `ids`, and once they are used up, `fresh()`, one made now.
    Every test of the module may take them all again: a test's `app` runs in a
    savepoint of the module's connection (`module_connection`), so a step it took on
    one is rolled back before the next test. A step that changes something outside
    the database (a refund at localstripe) is taken on a `fresh` record."""
    left = list(ids)

    def make() -> Any:
        if left:
            return Made(left.pop(0))
        assert fresh is not None, "more records asked for than the module made"
        return fresh()

    return make


def walk_states(
    client: FlaskClient,
    reader: Reader,
    kind: str,
    states: Sequence[State],
    attempts: Sequence[Attempt],
    **fields: str,
) -> None:
    """`check_state` of each record `states` make, read at `/api/v1/<kind>/<id>`; what
    `reader` was told is kept in `reader.seen` under the record's name."""
    for name, state, make in states:
        reader.seen[name] = check_state(
            client,
            reader,
            state,
            lambda make=make: f"/api/v1/{kind}/{make().id}",
            attempts,
            **fields,
        )


def assert_seen(reader: Reader, expected: Mapping[str, Mapping[str, list[str]]]) -> None:
    """`reader` was told the steps `expected` names for them, record by record (a
    reader `expected` does not name is checked by `check_state` alone)."""
    for name, steps in expected.get(reader.name, {}).items():
        assert reader.seen[name] == steps, (reader.name, name)
