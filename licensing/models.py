"""Every ORM model, imported in one place so that the metadata is complete.

Alembic's autogenerate and the tests' schema check read `Base.metadata` from
here; add each feature's `models` module to the imports below.
"""

from __future__ import annotations

from licensing.db import Base

__all__ = ["Base"]
