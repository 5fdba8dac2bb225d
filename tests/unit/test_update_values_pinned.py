"""Round 53: the refusal of a bulk UPDATE that writes a name without its keys
(`accounts.models._no_stale_key`) reads the UPDATE's SET clause from SQLAlchemy's
private `Update._values`: SQLAlchemy 2.1 has no public reader of it (an UPDATE's
`whereclause`, `entity_description` and `returning_column_descriptions` are public,
its values are not; `ORMExecuteState.parameters` holds only those given to
`execute`). These tests pin every way the service's code or a test writes a SET
clause, so a release that keeps the values elsewhere fails here, by name, and not
by letting a stale key through; and a missing attribute refuses, never passes."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import bindparam, func, update
from sqlalchemy.sql.dml import ValuesBase

from licensing.accounts.models import Organization, User, set_columns

TABLE = Organization.__table__


def test_sqlalchemy_is_the_minor_release_the_private_read_was_pinned_on() -> None:
    """A new minor release: read `sqlalchemy/sql/dml.py` for `_values`, run these tests,
    then move this line (pyproject pins `SQLAlchemy>=2.1,<2.2`)."""
    assert sqlalchemy.__version__.startswith("2.1."), sqlalchemy.__version__


@pytest.mark.parametrize(
    ("statement", "columns"),
    [
        (update(Organization).values(legal_name="x"), {"legal_name"}),
        (update(Organization).values({Organization.legal_name: "x"}), {"legal_name"}),
        (update(TABLE).values({TABLE.c.legal_name: "x", "city": "y"}), {"legal_name", "city"}),
        (
            update(Organization).values(legal_name=func.upper(Organization.legal_name)),
            {"legal_name"},
        ),
        (update(User).ordered_values((User.email, "a@b.example")), {"email"}),
        (
            update(Organization).values(legal_name=bindparam("n")).values(city="z"),
            {"legal_name", "city"},
        ),
        (update(Organization).where(Organization.legal_name == "x"), set()),
    ],
    ids=["keywords", "attribute", "table", "expression", "ordered", "twice", "none"],
)
def test_the_set_clause_is_read_for_every_way_of_writing_it(
    statement: sqlalchemy.Update, columns: set[str]
) -> None:
    """A WHERE on a name is not a write of it; every form of `.values()` is."""
    assert set_columns(statement) == columns


def test_an_update_whose_values_cannot_be_read_is_refused_not_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(ValuesBase, "_values")
    with pytest.raises(RuntimeError, match="no longer keeps its values in `_values`"):
        set_columns(update(Organization).where(Organization.id == 1))
