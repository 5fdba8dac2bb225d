"""What every feature's models share: a column limited to a vocabulary, the
audit snapshot of a record (the fields the audit log records before and after a
change), the reference people name a record by, JSON kept in a text column, and
records that never change once stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, overload

from sqlalchemy import CheckConstraint, event

from licensing import references
from licensing.money import quantize

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapped


def in_sql(column: str, values: Iterable[str]) -> str:
    """`column IN ('a', 'b')`: a CHECK's or a partial index's condition."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def one_of(column: str, values: Iterable[str]) -> CheckConstraint:
    """A CHECK that keeps `column` to `values`, named after the column (the naming
    convention makes it `ck_<table>_<column>`, as the migrations create it)."""
    return CheckConstraint(in_sql(column, values), name=column)


def attributes(record: object, names: Iterable[str]) -> dict[str, Any]:
    """Some of a record's attributes under their own names (as `Snapshotted` takes
    its audit snapshot): what another record or a payload copies from it."""
    return {name: getattr(record, name) for name in names}


class Snapshotted:
    """A model whose audit snapshot is some of its attributes, under their own names
    and in the order `SNAPSHOT` lists them.

    Those named in `AMOUNTS` are money in the record's `currency`: the snapshot
    rounds them to its minor unit (`money.quantize`), because audit payloads are
    exported and amounts leave the service with exactly the currency's digits,
    while a money column reads back with four places ("45.0000") and a typed one
    with as many as were typed ("250")."""

    SNAPSHOT: ClassVar[tuple[str, ...]] = ()
    AMOUNTS: ClassVar[tuple[str, ...]] = ()

    def snapshot(self) -> dict[str, Any]:
        values = attributes(self, self.SNAPSHOT)
        currency = getattr(self, "currency", None)
        for name in self.AMOUNTS:
            if values[name] is not None and currency is not None:
                values[name] = quantize(values[name], currency)
        return values


class Referenced:
    """A model people name by a prefix and its id in six digits (`APP-000042`), in
    pages, emails, documents and the audit log's labels."""

    REFERENCE: ClassVar[references.ById]  # the kind's formatter, `references.APPLICATION`
    if TYPE_CHECKING:  # every model's key; the mixin must not map a column of its own
        id: Mapped[int]

    @classmethod
    def reference_of(cls, record_id: int) -> str:
        """The reference of the record `record_id`, without loading it (for rows
        read as columns, and for the records a record points at)."""
        return cls.REFERENCE(record_id)

    @property
    def reference(self) -> str:
        return self.reference_of(self.id)


T = TypeVar("T")


class StoredJson(Generic[T]):
    """A read-only attribute: the JSON that text column `column` holds, decoded
    (`empty` read in place of an empty or NULL column, when given).

        flags = StoredJson[list[str]]("flags_json", empty="[]")
    """

    def __init__(self, column: str, *, empty: str | None = None) -> None:
        self.column = column
        self.empty = empty

    @overload
    def __get__(self, record: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, record: object, owner: type[Any]) -> T: ...

    def __get__(self, record: object | None, owner: type[Any]) -> Self | T:
        if record is None:
            return self
        text = getattr(record, self.column)
        value: T = json.loads(text if self.empty is None else text or self.empty)
        return value


def refuse_changes(
    model: type[Any], error: Callable[[str], Exception], what: Callable[[Any], str]
) -> None:
    """Once stored, `model`'s rows never change: an update or delete through the
    ORM raises `error`, saying `what(row)` ("letter L-1 is issued") and "and cannot
    change" or "and cannot be deleted"."""

    def refusal(consequence: str) -> Callable[[Any, Any, Any], None]:
        def refuse(_mapper: Any, _connection: Any, target: Any) -> None:
            raise error(f"{what(target)} and {consequence}")

        return refuse

    event.listen(model, "before_update", refusal("cannot change"))
    event.listen(model, "before_delete", refusal("cannot be deleted"))
