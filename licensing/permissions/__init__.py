"""Educational permission requests: the public form, the staff queue, decision letters.

`init_app(app)` connects the receiver that turns a use a license application's
rate card routes to the queue (`licensing.signals.use_routed_to_permissions`)
into a permission request, and has letters sealed as they are issued;
blueprints are listed in `licensing.app`.
"""

from __future__ import annotations

from flask import Flask

from licensing.permissions import seals, services
from licensing.signals import use_routed_to_permissions


def init_app(app: Flask) -> None:
    # blinker keys receivers by identity: a second app connects nothing more.
    use_routed_to_permissions.connect(services.on_routed_use, weak=False)
    seals.register()  # letters are sealed as they are issued
