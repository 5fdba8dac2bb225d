"""localstripe (PyPI) served with its store kept in memory only: the suite's Stripe.

localstripe writes its whole store to `/tmp/localstripe.pickle` on every write (each
object set or removed, and again after each POST, PUT or DELETE), which it reads back
only when started without `--from-scratch`; the suite always starts it from scratch.
So each write pickled everything a worker's session had made at localstripe, its cost
growing with the session: late in a CI worker's run a card payment's few writes
took seconds (round 65: the billing tests on PostgreSQL, run last, were 3 to 9 times
their SQLite half), and both workers' servers wrote the same file. The API it serves,
the events it keeps and delivers and its Stripe.js stand-in are untouched; only the
copy to disk, which nothing reads, is not made.

Run as a script: `python localstripe_in_memory.py --port N --from-scratch`
(`tests/support/servers.py::LocalStripe.start`)."""

from __future__ import annotations

from localstripe import resources
from localstripe.server import start


def _kept_in_memory(_store: resources.Store) -> None:
    """The store is not written to disk (the module's docstring)."""


if __name__ == "__main__":
    resources.Store.dump_to_disk = _kept_in_memory  # type: ignore[method-assign]
    start()
