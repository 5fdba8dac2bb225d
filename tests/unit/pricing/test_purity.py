"""The pricing core stays pure: standard library and `licensing.money` only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("flask", "sqlalchemy", "marshmallow", "stripe", "werkzeug", "yaml")

PROBE = f"""
import importlib, json, pkgutil, sys
import licensing.pricing as pricing
names = [f"licensing.pricing.{{m.name}}" for m in pkgutil.iter_modules(pricing.__path__)]
for name in names:
    importlib.import_module(name)
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({FORBIDDEN!r}))
ours = sorted(name for name in sys.modules if name.startswith("licensing."))
print(json.dumps({{"modules": names, "forbidden": loaded, "ours": ours}}))
"""


def _probe() -> dict[str, Any]:
    """What importing every pricing module in a fresh interpreter loads."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_importing_every_pricing_module_loads_no_framework() -> None:
    report = _probe()
    assert report["forbidden"] == []
    assert {"licensing.pricing.ratecard", "licensing.pricing.quote"} <= set(report["modules"])


def test_the_pricing_core_reads_no_configuration() -> None:
    # Round 44: the long-card threshold (`LONG_CARD_DAYS`) is configuration, read at
    # the edges and passed in; the core imports only itself and `licensing.money`.
    ours = _probe()["ours"]
    assert "licensing.config" not in ours
    assert {name for name in ours if not name.startswith("licensing.pricing")} <= {
        "licensing.money"
    }
