"""Every ORM model, imported in one place so that the metadata is complete.

Alembic's autogenerate and the tests' schema check read `Base.metadata` from
here; add each feature's `models` module to the imports below.
"""

from __future__ import annotations

from licensing import job_runs as job_runs_models  # noqa: F401
from licensing.accounts import models as accounts_models  # noqa: F401
from licensing.agreements import models as agreements_models  # noqa: F401
from licensing.audit import models as audit_models  # noqa: F401
from licensing.billing import models as billing_models  # noqa: F401
from licensing.db import Base
from licensing.mail import models as mail_models  # noqa: F401
from licensing.permissions import models as permissions_models  # noqa: F401
from licensing.ratecards import models as ratecards_models  # noqa: F401
from licensing.royalties import models as royalties_models  # noqa: F401

__all__ = ["Base"]
