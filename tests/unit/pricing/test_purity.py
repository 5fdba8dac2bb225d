"""The pricing core stays pure: standard library and `licensing.money` only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("flask", "sqlalchemy", "marshmallow", "stripe", "werkzeug", "yaml")

PROBE = f"""
import importlib, json, pkgutil, sys
import licensing.pricing as pricing
names = [f"licensing.pricing.{{m.name}}" for m in pkgutil.iter_modules(pricing.__path__)]
for name in names:
    importlib.import_module(name)
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({FORBIDDEN!r}))
print(json.dumps({{"modules": names, "forbidden": loaded}}))
"""


def test_importing_every_pricing_module_loads_no_framework() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(result.stdout)
    assert report["forbidden"] == []
    assert {"licensing.pricing.ratecard", "licensing.pricing.quote"} <= set(report["modules"])
