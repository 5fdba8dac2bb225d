"""Several hosts running one batch job at the same moment: the concurrency tests of
the scheduled jobs (each on a `committed_app`, so that every host has its own
connection and real commits)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from flask import Flask

T = TypeVar("T")


def run_as_hosts(app: Flask, job: Callable[[], T], *, hosts: int = 2) -> list[T]:
    """`job` run on `hosts` threads, each in an app context of its own and started
    together (a barrier); what each returned, once all are done. Any thread's error
    fails the test with that error."""
    results: list[T] = []
    failures: list[BaseException] = []
    start = threading.Barrier(hosts)

    def run() -> None:
        try:
            with app.app_context():
                start.wait(timeout=30)
                results.append(job())
        except BaseException as exc:  # reported below, with the thread's own error
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(hosts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(results) == hosts
    return results
