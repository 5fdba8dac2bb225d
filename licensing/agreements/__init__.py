"""Applications, agreements, acceptance and the agreement PDF.

`init_app(app)` has issued agreements sealed (`licensing.audit.seals`).
"""

from __future__ import annotations

from flask import Flask

from licensing.agreements import seals


def init_app(app: Flask) -> None:
    seals.register()
