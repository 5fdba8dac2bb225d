"""The API's schemas, for tests that walk every one of them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import marshmallow as ma

import licensing.api


def api_schemas() -> Iterator[type[ma.Schema]]:
    """Every schema class a `licensing.api` module defines."""
    for module_info in pkgutil.iter_modules(licensing.api.__path__):
        module = importlib.import_module(f"licensing.api.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, ma.Schema)
                and value.__module__ == module.__name__
            ):
                yield value
