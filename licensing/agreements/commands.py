"""What a vendor asks for in an application, and the changes staff make on
approving one, as typed commands the use cases take.

The edges check the shape of what arrives (marshmallow on the API,
`agreements/forms.py` on the pages, both reading the limits on the models) and
build these; the use cases check the business rules only (the vocabulary, the
term, how many uses). `from_fields` is the one place input is tidied (spaces,
duplicate languages), so a page and the API that say the same thing make the
same command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

DEFAULT_DELIVERY = "installed"


def one_line(text: str | None) -> str:
    """A short text as it is stored: runs of spaces and line breaks made one space."""
    return " ".join((text or "").split())


def distinct_languages(items: str | Iterable[str] | None) -> tuple[str, ...]:
    """Languages as listed ("en, fr" or ["en", "fr"]): trimmed, empty ones and
    repeats dropped, in the order given."""
    if items is None:
        return ()
    listed = items.split(",") if isinstance(items, str) else items
    return tuple(dict.fromkeys(text for text in (str(item).strip() for item in listed) if text))


def languages_text(items: str | Iterable[str] | None) -> str:
    """The languages as the use stores them (`ApplicationUse.languages`); the
    edges bound its length by `LANGUAGES_MAX`."""
    return ", ".join(distinct_languages(items))


@dataclass(frozen=True)
class ProposedUseInput:
    """One proposed use as the vendor describes it (shape already checked)."""

    use: str
    product_type: str
    user_type: str
    product_name: str = ""
    description: str = ""
    delivery: str = DEFAULT_DELIVERY
    territories: str = ""
    languages: tuple[str, ...] = ()
    quantity: Mapping[str, int] = field(default_factory=dict)
    revenue: Decimal | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> ProposedUseInput:
        """From plain data an edge has checked (the API's loaded body, a page
        form's data, a stored use's `fields()`): tidied the same way for all."""
        revenue = fields.get("revenue")
        return cls(
            use=str(fields.get("use") or ""),
            product_type=str(fields.get("product_type") or ""),
            user_type=str(fields.get("user_type") or ""),
            product_name=one_line(fields.get("product_name")),
            description=(fields.get("description") or "").strip(),
            delivery=str(fields.get("delivery") or DEFAULT_DELIVERY),
            territories=one_line(fields.get("territories")),
            languages=distinct_languages(fields.get("languages")),
            quantity={
                unit.strip(): count for unit, count in (fields.get("quantity") or {}).items()
            },
            revenue=None if revenue is None or revenue == "" else Decimal(revenue),
        )


@dataclass(frozen=True)
class ApplicationDraft:
    """What a vendor writes in an application: all optional until submission,
    when `submission` checks that it is complete."""

    term_start: date | None = None
    term_end: date | None = None
    rate_card: str | None = None
    uses: tuple[ProposedUseInput, ...] = ()

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> ApplicationDraft:
        """From plain data an edge has checked; `uses` are mappings (see
        `ProposedUseInput.from_fields`)."""
        return cls(
            term_start=fields.get("term_start"),
            term_end=fields.get("term_end"),
            rate_card=(fields.get("rate_card") or "").strip() or None,
            uses=tuple(ProposedUseInput.from_fields(use) for use in fields.get("uses") or ()),
        )


@dataclass(frozen=True)
class LineChange:
    """A staff amount for one use (`line`, from 0), with the reason the agreement shows."""

    line: int
    amount: Decimal
    reason: str


def no_such_use(line: int, count: int) -> str:
    """The refusal of a change to use `line` (from 0) of an application with `count`
    uses: the same words from the API and from the console's approval form."""
    return (
        f"Use {line + 1} is not a use of this application "
        f"(it has {count} use{'' if count == 1 else 's'})."
    )


@dataclass(frozen=True)
class Modifications:
    """Staff changes on approval: amounts per line, and the term, each with a reason."""

    lines: Sequence[LineChange] = ()
    term_start: date | None = None
    term_end: date | None = None
    term_reason: str | None = None

    @property
    def empty(self) -> bool:
        return not self.lines and self.term_start is None and self.term_end is None
