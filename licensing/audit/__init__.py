"""The audit log: an append-only, hash-chained record of every state change.

`services.record()` appends an event in the caller's transaction;
`services.verify_chain()` (the `licensing audit verify` command) recomputes the
chain and reports any row edited, deleted or reordered since it was written.
"""

from __future__ import annotations

from flask import Flask

from licensing.audit import seals


def init_app(app: Flask) -> None:
    """Seal issued documents in the flush that issues them; each feature registers
    its kinds (invoices, credit notes, agreements, letters); see `seals`."""
    seals.init_app()
