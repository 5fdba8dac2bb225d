"""Rate cards loaded through the real import service."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from licensing.ratecards import services

EXAMPLE_CARD = Path(__file__).parents[2] / "unit" / "pricing" / "ratecard_example.json"


def example_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLE_CARD.read_text(), parse_float=Decimal)
    return document


def card_document(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(example_document())
    document.update(changes)
    return document


@pytest.fixture
def example_card(app: Flask) -> str:
    """The contract's example card (2027.1), published."""
    return services.import_card(example_document(), published_by="tests").version
