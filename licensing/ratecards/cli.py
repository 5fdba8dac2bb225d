"""`licensing ratecards ...`: publish and inspect rate cards from the command line."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import yaml
from flask.cli import with_appcontext

from licensing import calendar, db, errors, limits, terminal
from licensing.config import current_config
from licensing.money import price_in_words
from licensing.pricing.describe import proration_warnings
from licensing.pricing.ratecard import period_words
from licensing.ratecards import queries, services

SAMPLES_DIR = Path(__file__).parent / "samples"


# The largest card file the commands read (round 54, review54): ten times the page's
# upload (`views.MAX_CARD_BYTES`), since a card too large to publish from a page is
# published here; no more than one byte past it is read (a device or a pipe too).
MAX_CARD_FILE_BYTES = 10_000_000
# The most nodes a YAML card may make once its aliases are expanded: a "YAML bomb"
# (ten anchors of nine aliases each) is a few hundred bytes that expand to billions.
MAX_YAML_NODES = 1_000_000


class _CardLoader(yaml.SafeLoader):
    """The safe loader, reading YAML floats (which would be binary) as their text,
    integers and floats within the API's bounds on a JSON number, and refusing a
    document whose aliases expand past `MAX_YAML_NODES`."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping, refusing a key given twice in it (round 55: YAML took the last,
        as JSON did); keys a merge (`<<`) brings may be overridden, as YAML says."""
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            if (key_node.tag, key_node.value) in seen:
                line = key_node.start_mark.line + 1
                raise yaml.YAMLError(
                    f"the key {json.dumps(key_node.value)} is given twice "
                    f"in one mapping (line {line}): give each key once"
                )
            seen.add((key_node.tag, key_node.value))
        return super().construct_mapping(node, deep=deep)

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many nodes `node` makes with every alias expanded (each shared node is
    counted once per use, measured once); a `YAMLError` past `MAX_YAML_NODES`, or
    for a node that holds itself."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise yaml.YAMLError("an alias refers to a node that holds it")
    open_nodes.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, open_nodes)
        if total > MAX_YAML_NODES:
            raise yaml.YAMLError(
                f"its aliases expand to more than {MAX_YAML_NODES:,} values (a YAML bomb?)"
            )
    open_nodes.discard(key)
    sizes[key] = total
    return total


def _bounded_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if len(text) > limits.MAX_JSON_NUMBER_CHARS:
        raise yaml.YAMLError(str(limits.NumberOutOfRange(text)))
    return text


def _exact_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    try:
        return limits.json_decimal(_bounded_scalar(loader, node))
    except (limits.NumberOutOfRange, ArithmeticError) as error:
        raise yaml.YAMLError(str(error)) from None


def _bounded_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    _bounded_scalar(loader, node)
    value: int = loader.construct_yaml_int(node)
    return value


_CardLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)
_CardLoader.add_constructor("tag:yaml.org,2002:int", _bounded_int)


class CardFileError(ValueError):
    """A card file that cannot be read: too large, not UTF-8, not JSON or YAML, or
    beyond the bounds on a document (depth, numbers' lengths, unstorable text)."""


def _regular_file_bytes(path: Path) -> bytes:
    """At most one byte past `MAX_CARD_FILE_BYTES` of a regular file. Anything else
    (round 55: a named pipe held the command until some writer came, a device such
    as /dev/zero or a terminal never ends) is refused before it is opened, and again
    once open (opened without waiting: the path may have been swapped between)."""
    if not stat.S_ISREG(path.stat().st_mode):
        raise CardFileError(_NOT_REGULAR)
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise CardFileError(_NOT_REGULAR)
        return file.read(MAX_CARD_FILE_BYTES + 1)


_NOT_REGULAR = (
    "not a regular file (a named pipe, a device or a socket is not read: save the card "
    "to a file and name that)"
)


def read_card_file(path: Path) -> Any:
    """A card from JSON, or YAML with the same structure; decimals stay exact.

    Read within the bounds the API puts on a body (`limits.loads`: nesting, numbers'
    lengths, unstorable text) and at most `MAX_CARD_FILE_BYTES`: `CardFileError`
    saying why not (round 54: a deeply nested file or a 5,000-digit integer was a
    traceback, a YAML bomb held the command)."""
    try:
        raw = _regular_file_bytes(path)
    except OSError as exc:
        raise CardFileError(f"the file cannot be read: {exc}") from None
    if len(raw) > MAX_CARD_FILE_BYTES:
        raise CardFileError(f"the file is larger than {MAX_CARD_FILE_BYTES // 1_000_000} MB")
    try:
        content = raw.decode("utf-8")
        if path.suffix.lower() not in {".yaml", ".yml"}:
            return limits.loads(content)
        document = yaml.load(content, Loader=_CardLoader)  # noqa: S506 - a SafeLoader subclass
        limits.check_document(document)  # the bounds a JSON body's values are held to
        return document
    except errors.RepeatedKey as repeated:  # its detail names the key and where it is
        raise CardFileError(repeated.detail) from None
    except errors.InvalidInput as invalid:
        said = "; ".join(message for messages in invalid.errors.values() for message in messages)
        raise CardFileError(said or invalid.detail) from None
    except RecursionError:
        raise CardFileError(f"nested deeper than {limits.MAX_JSON_DEPTH} levels") from None
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise CardFileError(f"not a readable JSON or YAML document: {exc}") from None


def _document(path: Path) -> Any:
    try:
        return read_card_file(path)
    except CardFileError as exc:
        raise click.ClickException(terminal.shown(f"{path}: {exc}")) from None


def _say(line: str) -> None:
    """One line of a command's output, a card's text in it escaped (`terminal.shown`:
    round 54, a card's title or rule id may hold what a terminal obeys)."""
    click.echo(terminal.shown(line))


def _publish(path: Path) -> services.ImportResult:
    document = _document(path)
    with _refusals(path):
        return services.import_card(
            document,
            published_by="cli",
            long_period_days=current_config().long_card_days,
            price_change_ratio=current_config().price_change_ratio,
            amount=price_in_words,
        )


@contextmanager
def _refusals(path: Path) -> Iterator[None]:
    """A card publishing would refuse, as a `ClickException` listing every problem."""
    try:
        yield
    except errors.InvalidInput as invalid:
        lines = [f"{path}: {invalid.detail}"]
        for field_path, messages in invalid.errors.items():
            lines.extend(f"  {field_path}: {message}" for message in messages)
        raise click.ClickException("\n".join(map(terminal.shown, lines))) from None
    except errors.Conflict as conflict:
        raise click.ClickException(terminal.shown(f"{path}: {conflict.detail}")) from None


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(file: Path) -> None:
    """Validate and publish the rate card in FILE (JSON or YAML).

    Nothing is stored when the card is invalid: every problem is listed.
    Importing a version that exists with identical content changes nothing; with
    different content it is refused.
    """
    result = _publish(file)
    verb = "Published" if result.created else "Already published, unchanged:"
    _say(f"{verb} rate card {result.version}.")
    # A card that runs long: what the check warns of, said as it is published (round 44).
    for warning in result.proration_warnings:
        _say(f"Warning: {warning.sentence}")
    # The check's price warnings, said as it is published (round 55).
    for change in result.price_change_warnings:
        _say(f"Warning: {change.sentence}")
    # A correction: what it replaces, as the page's message says it (cardwalk60).
    replaced = services.replaces(result.version) if result.created else ""
    if replaced:
        _say(replaced)
    # Round 65: the cards in other currencies for the same days, which it corrects not.
    beside = services.alongside(result.version) if result.created else ""
    if beside:
        _say(beside)
    # Round 61: the licensees of the agreements it corrects, emailed.
    told = services.emailed(result.agreements_told, result.agreements_not_emailed)
    if told:
        _say(told)


@click.command("tell")
@click.argument("version")
def tell_command(version: str) -> None:
    """Email the licensees of the agreements the published card VERSION corrects that
    were not told of it yet.

    Publishing a correction tells them itself, in batches once the card is stored
    (round 62); this finishes a telling stopped part-way (the process ended, the
    database went away). Nobody is told twice: safe to run again.
    """
    try:
        told, unchanged = services.tell_licensees(version)
    except errors.NotFound as missing:
        raise click.ClickException(terminal.shown(missing.detail)) from None
    said = services.emailed(told, unchanged)
    _say(said or f"Every licensee rate card {version} corrects was told of it already.")


@click.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def check_command(file: Path) -> None:
    """Check the rate card in FILE (JSON or YAML) without publishing it.

    What publishing would refuse is refused alike (every problem listed); else the
    differences from the card it follows, and its warnings: a figure changed many
    times over against that card (round 54), a card that runs long. Stores nothing.
    """
    with _refusals(file):
        check = services.check_card(_document(file))
    card, base = check.card, check.base
    if check.version_state == "identical":
        _say(f"Rate card {card.version} is valid and published with this content.")
        return
    _say(f"Rate card {card.version} is valid; nothing is published.")
    if base is None:
        click.echo("No card is published before it to compare it with.")
    else:
        changes = check.differences(amount=price_in_words)
        said = f"{len(changes)} difference{'' if len(changes) == 1 else 's'}"
        _say(f"Compared with {base.version}: {said}.")
        for change in changes:
            _say(f"  {change.sentence}")
    for warning in check.price_changes(
        amount=price_in_words, ratio=current_config().price_change_ratio
    ):
        _say(f"Warning: {warning.sentence}")
    today = calendar.office_date(db.utcnow())
    long_days = current_config().long_card_days
    for prorated in proration_warnings(card, long_period_days=long_days, today=today):
        _say(f"Warning: {prorated.sentence}")


@click.command("list")
@with_appcontext
def list_command() -> None:
    """Published cards, newest period first."""
    cards = queries.all_cards(db.session())
    if not cards:
        click.echo("No rate cards are published.")
    for card in cards:
        _say(
            f"{card.version:<12} {period_words(card.effective_from, card.effective_to)}  "
            f"{card.currency}  {card.title}"
        )


def load_samples() -> str:
    """`licensing setup`: publish the shipped sample cards (idempotent)."""
    results = [_publish(path) for path in sorted(SAMPLES_DIR.glob("*.json"))]
    created = [r.version for r in results if r.created]
    kept = [r.version for r in results if not r.created]
    parts = []
    if created:
        parts.append("published " + ", ".join(created))
    if kept:
        parts.append("already published " + ", ".join(kept))
    return "; ".join(parts) or "no sample cards shipped"
