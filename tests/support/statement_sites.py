"""Which integration test files run on PostgreSQL, and the check that every SQL
statement site the suite reaches on SQLite is reached on PostgreSQL too (round 67).

A pytest plugin (tests/conftest.py names it in `pytest_plugins`).

**Sites.** Every statement a test makes the service issue is recorded by its
*site*: the innermost frame in `licensing/` that issued it (generic helpers,
`licensing/db.py` and `licensing/streaming.py`, skipped so the site names the
query's owner), as `path:function:line`, and for an INSERT, UPDATE or DELETE the
verb and table (`... INSERT invoices`). One listener on every engine
(`before_cursor_execute`) finds it by walking the stack, each code object
classified once a process. A statement no frame in `licensing/` issued (the tests'
own set-up), one Alembic issues (migrations: their test runs on both databases),
and transaction control, `PRAGMA`, `SET` and the like (each database's own) have
no site. The key is the same on both databases: only which test reached it, and on
which database, is kept.

**Which files run on PostgreSQL.** `tests/postgresql_files.txt` names them, in
groups with a reason each. A test file not named there runs on SQLite alone (its
PostgreSQL items are deselected at collection), and so does a new one, unless one
of its tests takes `committed_app` (its own database with real commits: locks,
concurrency, what the database decides), which always runs on both.
`--postgresql-files=all` runs every file on both, as before round 67 (the capture
that chose the list).

**The check.** In a whole run (no file, directory below `tests/integration`,
`-k`, `-m`, `--lf` or `--deselect` narrowing it), after the last test, the session
fails if a site reached on SQLite was not reached on PostgreSQL, naming each site,
one SQLite test that reached it, and the remedy: add that test's file to the list.
Under xdist each worker hands its sites to the controller (`workeroutput`), which
checks them together. It is off where PostgreSQL did not run (no statement reached
it), unless `CI=true`, where that fails too. `--statement-sites=on|off` forces it
either way; `--statement-sites-dump=FILE` writes every test's sites, by database, as
JSON (what `python -m tests.support.statement_sites choose` reads to choose the
list)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest
from sqlalchemy import Engine, event

import licensing

PACKAGE = Path(licensing.__file__).resolve().parent
ROOT = PACKAGE.parent
LIST_FILE = Path(__file__).resolve().parent.parent / "postgresql_files.txt"
# Generic helpers that issue statements their callers wrote: the site is the caller.
HELPERS = frozenset({PACKAGE / "db.py", PACKAGE / "streaming.py"})
# Frames under these issue no statement of the service's own (migrations).
STOPS = ("alembic",)
SITED_VERBS = frozenset({"SELECT", "WITH", "INSERT", "UPDATE", "DELETE"})
WRITES = frozenset({"INSERT", "UPDATE", "DELETE"})
# Tests that always run on PostgreSQL too (the module docstring): those on a
# database of their own with real commits (any fixture that takes `committed_app`),
# and those that ask for the database itself by name (their body tells the two apart).
DATABASE_FIXTURES = frozenset({"committed_app"})
DATABASE_ARGUMENTS = frozenset({"backend", "database_template", "postgresql_template"})
KEY = "statement_sites"

_PASS, _STOP, _FLUSH = 0, 1, 2
# Per code object: _PASS (look further out), _STOP (no site), or "path:function".
_KIND: dict[CodeType, int | str] = {}
# Per statement text: None (no site) or its suffix ("" or " VERB table").
_SUFFIX: dict[str, str | None] = {}


class _Recorder:
    def __init__(self) -> None:
        self.current: str | None = None
        self.statements = {"sqlite": 0, "postgresql": 0}
        # database -> site -> the first test that reached it
        self.reached: dict[str, dict[str, str]] = {"sqlite": {}, "postgresql": {}}
        # database -> test -> sites (only with --statement-sites-dump)
        self.by_test: dict[str, dict[str, set[str]]] | None = None
        # PostgreSQL tests that run whether or not their file is listed
        self.always: set[str] = set()


RECORDER = _Recorder()


def _classify(code: CodeType) -> int | str:
    path = Path(code.co_filename)
    if not path.is_absolute():
        return _PASS
    if path.parts[-3:] == ("sqlalchemy", "orm", "persistence.py"):
        return _FLUSH
    if any(f"{os.sep}{stop}{os.sep}" in code.co_filename for stop in STOPS):
        return _STOP
    try:
        relative = path.resolve().relative_to(ROOT)
    except ValueError:
        return _PASS
    if relative.parts[0] != "licensing" or ROOT / relative in HELPERS:
        return _PASS
    return f"{relative.as_posix()}:{code.co_qualname}"


def _suffix(statement: str) -> str | None:
    words = statement.lstrip(" (\n\t").split(None, 3)
    verb = words[0].upper() if words else ""
    if verb not in SITED_VERBS:
        return None
    if verb not in WRITES:
        return ""
    index = 2 if verb in ("INSERT", "DELETE") else 1  # INSERT INTO t, DELETE FROM t, UPDATE t
    table = words[index].strip('"`').split("(")[0] if len(words) > index else "?"
    return f" {verb} {table}"


def site_of(statement: str, frame: FrameType | None) -> str | None:
    """The site of `statement`, issued with `frame` innermost (None: no site)."""
    suffix = _SUFFIX.get(statement, False)
    if suffix is False:
        suffix = _SUFFIX[statement] = _suffix(statement)
    if suffix is None:
        return None
    while frame is not None:
        code = frame.f_code
        kind = _KIND.get(code)
        if kind is None:
            kind = _KIND[code] = _classify(code)
        if kind.__class__ is str:
            return f"{kind}:{frame.f_lineno}{suffix}"
        if kind == _FLUSH:  # the ORM writing what the code changed: the table is the site
            return f"flush{suffix}" if suffix else None
        if kind == _STOP:
            return None
        frame = frame.f_back
    return None


_INTEGRATION = "tests/integration/"


@event.listens_for(Engine, "before_cursor_execute")
def _record(
    connection: Any,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    current = RECORDER.current
    if current is None:
        return
    site = site_of(statement, sys._getframe(1))
    if site is not None:
        database = connection.dialect.name
        RECORDER.statements[database] = RECORDER.statements.get(database, 0) + 1
        reached = RECORDER.reached.setdefault(database, {})
        if site not in reached:
            reached[site] = current
        if RECORDER.by_test is not None:
            RECORDER.by_test.setdefault(database, {}).setdefault(current, set()).add(site)


# --- which files run on PostgreSQL ---------------------------------------------------


def listed_files(path: Path = LIST_FILE) -> set[str]:
    """The test files the list names (paths from the repository's root)."""
    return listed_files_text(path.read_text(encoding="utf-8"))


ONE_DATABASE = "sqlite-only:"


def listed_files_text(text: str) -> set[str]:
    names: set[str] = set()
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name and not name.startswith(ONE_DATABASE):
            names.add(name)
    return names


def sqlite_only(path: Path = LIST_FILE) -> tuple[str, ...]:
    """The list's `sqlite-only: path:function` lines: statements a function issues
    on SQLite where it issues another kind (or none through SQLAlchemy) on
    PostgreSQL, so their sites are SQLite's alone."""
    owners = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry.startswith(ONE_DATABASE):
            owners.append(entry.removeprefix(ONE_DATABASE).strip() + ":")
    return tuple(owners)


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def plain(nodeid: str) -> str:
    """A test's id without the `@group` a `--dist loadgroup` run adds."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") and at > nodeid.rfind("::") else nodeid


def _database_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("backend")


def _about_the_database(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    arguments = () if info is None else info.argnames
    return bool(
        DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        or DATABASE_ARGUMENTS.intersection(arguments)
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("statement sites", "PostgreSQL files and their statement sites")
    group.addoption(
        "--postgresql-files",
        choices=("listed", "all"),
        default="listed",
        help="listed (default): PostgreSQL runs the files tests/postgresql_files.txt names "
        "and tests taking committed_app; all: every integration file on both databases",
    )
    group.addoption(
        "--statement-sites",
        choices=("auto", "on", "off"),
        default="auto",
        help="the check that every site reached on SQLite is reached on PostgreSQL: "
        "auto (default) in a whole run where PostgreSQL ran (always under CI=true)",
    )
    group.addoption(
        "--statement-sites-dump",
        metavar="FILE",
        default=None,
        help="write every test's statement sites, by database, to FILE (JSON)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("statement_sites_dump"):
        RECORDER.by_test = {}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each PostgreSQL item of a file the list does not name, deselected (unless
    it takes a fixture in `DATABASE_FIXTURES`)."""
    every = config.getoption("postgresql_files") == "all"
    listed = set() if every else listed_files()
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        if _database_of(item) != "postgresql" or file_of(item.nodeid) in listed:
            kept.append(item)
        elif _about_the_database(item):
            RECORDER.always.add(item.nodeid)
            kept.append(item)
        elif not every:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    # The integration tier's sites only: the browser tier runs on SQLite alone (its live
    # server), so its sites were never PostgreSQL's to reach (the first whole CI of
    # round 67 named 20 such sites).
    RECORDER.current = item.nodeid if _INTEGRATION in item.nodeid else None
    try:
        return (yield)
    finally:
        RECORDER.current = None
        dump = item.config.getoption("statement_sites_dump")
        if dump and RECORDER.by_test is not None:
            # Each test's sites as it ends, a line each (a capture cut short keeps them).
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            with open(f"{dump}.{worker}.jsonl", "a", encoding="utf-8") as lines:
                for database, tests in RECORDER.by_test.items():
                    if item.nodeid in tests:
                        record = {"test": item.nodeid, "database": database}
                        lines.write(json.dumps({**record, "sites": sorted(tests[item.nodeid])}))
                        lines.write("\n")


# --- gathering (xdist workers to the controller) -----------------------------------


def _payload() -> dict[str, Any]:
    payload: dict[str, Any] = {
        "statements": dict(RECORDER.statements),
        "reached": {database: dict(sites) for database, sites in RECORDER.reached.items()},
    }
    if RECORDER.by_test is not None:
        payload["by_test"] = {
            database: {test: sorted(sites) for test, sites in tests.items()}
            for database, tests in RECORDER.by_test.items()
        }
        payload["always_postgresql"] = sorted(RECORDER.always)
    return payload


_GATHERED: list[dict[str, Any]] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: a worker's sites."""
    output = getattr(node, "workeroutput", {}).get(KEY)
    if output is not None:
        _GATHERED.append(json.loads(output))


def _merged() -> dict[str, Any]:
    parts = _GATHERED or [_payload()]
    merged: dict[str, Any] = {"statements": {}, "reached": {}, "by_test": {}}
    always: set[str] = set()
    for part in parts:
        always.update(part.get("always_postgresql", []))
        for database, count in part["statements"].items():
            merged["statements"][database] = merged["statements"].get(database, 0) + count
        for database, sites in part["reached"].items():
            into = merged["reached"].setdefault(database, {})
            for site, test in sites.items():
                into.setdefault(site, test)
        for database, tests in part.get("by_test", {}).items():
            merged["by_test"].setdefault(database, {}).update(tests)
    merged["always_postgresql"] = sorted(always)
    return merged


# --- the check ----------------------------------------------------------------------


def _whole_run(session: pytest.Session) -> bool:
    """Whether this session ran every integration test it would run by default."""
    config = session.config
    option = config.option
    if getattr(option, "keyword", "") or getattr(option, "markexpr", ""):
        return False
    if getattr(option, "lf", False) or getattr(option, "deselect", None):
        return False
    if getattr(option, "last_failed", False) or getattr(option, "ignore", None):
        return False
    whole = {ROOT, ROOT / "tests", ROOT / "tests" / "integration"}
    for argument in config.args:
        path = Path(argument.split("::", 1)[0])
        path = (path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve()
        if path not in whole:
            return False
    return True


def missing_sites(
    reached: dict[str, dict[str, str]], alone: tuple[str, ...] = ()
) -> dict[str, str]:
    """Each site reached on SQLite and not on PostgreSQL, with the SQLite test
    (`alone`: the owners whose SQLite sites are SQLite's own)."""
    on_postgresql = reached.get("postgresql", {})
    return {
        site: test
        for site, test in sorted(reached.get("sqlite", {}).items())
        if site not in on_postgresql and not site.startswith(alone)
    }


_REPORT: list[str] = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: hand the sites on
        config.workeroutput[KEY] = json.dumps(_payload())  # type: ignore[attr-defined]
        return
    merged = _merged()
    dump = config.getoption("statement_sites_dump")
    if dump:
        Path(dump).write_text(json.dumps(merged, sort_keys=True), encoding="utf-8")
    mode = config.getoption("statement_sites")
    in_ci = os.environ.get("CI", "").lower() == "true"
    if mode == "off" or session.shouldstop or session.shouldfail:
        return
    if mode == "auto":
        if not _whole_run(session) or config.getoption("postgresql_files") == "all":
            return
        if not merged["statements"].get("sqlite"):
            return  # no integration test ran
        if not merged["statements"].get("postgresql") and not in_ci:
            _REPORT.append("statement sites: not checked, PostgreSQL did not run here")
            return
    missing = missing_sites(merged["reached"], sqlite_only())
    sqlite_sites = len(merged["reached"].get("sqlite", {}))
    if not missing:
        _REPORT.append(
            f"statement sites: all {sqlite_sites} reached on SQLite were reached on PostgreSQL"
        )
        return
    _REPORT.append(
        f"statement sites: {len(missing)} of the {sqlite_sites} reached on SQLite "
        "were not reached on PostgreSQL:"
    )
    for site, test in missing.items():
        _REPORT.append(f"  {site}\n      reached on SQLite by {test}")
    files = sorted({file_of(test) for test in missing.values()})
    _REPORT.append(
        "Mend it: add the file of a test that reaches each site to tests/postgresql_files.txt "
        "(in the group it belongs to, with its reason), or write a test that reaches it in a "
        "file listed there. These files would do:"
    )
    _REPORT.extend(f"  {name}" for name in files)
    if exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORT:
        failed = any("were not reached" in line for line in _REPORT)
        terminalreporter.section("statement sites", sep="=", red=failed, bold=failed)
        for line in _REPORT:
            terminalreporter.write_line(line)


# --- choosing the list from a capture ------------------------------------------------


def _seconds_by_file(timed: Path) -> dict[str, dict[str, float]]:
    """Test-seconds (setup, call and teardown) by file and database, from a junit
    XML (`--junitxml`) or a timeline of JSON lines (`id`, `duration` a phase each)."""
    import re
    import xml.etree.ElementTree as ElementTree

    cases: list[tuple[str, str, float]] = []  # (file, name, seconds)
    if timed.suffix == ".jsonl":
        for line in timed.read_text(encoding="utf-8").splitlines():
            phase = json.loads(line)
            test = plain(phase["id"])
            cases.append((file_of(test), test, float(phase["duration"])))
    else:
        paths: dict[str, str] = {}
        # The suite's own junit file.
        for case in ElementTree.parse(timed).getroot().iter("testcase"):  # noqa: S314
            classname = case.get("classname", "")
            if classname not in paths:
                parts = classname.split(".")
                paths[classname] = classname
                for end in range(len(parts), 0, -1):
                    candidate = "/".join(parts[:end]) + ".py"
                    if (ROOT / candidate).exists():
                        paths[classname] = candidate
                        break
            cases.append((paths[classname], case.get("name", ""), float(case.get("time", "0"))))
    seconds: dict[str, dict[str, float]] = {}
    for name, test, duration in cases:
        found = re.search(r"\[(?:.*-)?(sqlite|postgresql)(?:-.*)?\]", test)
        database = found.group(1) if found else "none"
        into = seconds.setdefault(name, {})
        into[database] = into.get(database, 0.0) + duration
    return seconds


def choose(dump: Path, timed: Path, fixed: set[str]) -> tuple[list[tuple[str, int, float]], Any]:
    """The files to add to `fixed` so that PostgreSQL reaches every site SQLite
    does: weighted greedy by file (the most new sites a PostgreSQL second first),
    then each chosen file whose sites the others reach dropped, the dearest first.

    A file's PostgreSQL sites are those its tests reached on PostgreSQL in the
    capture or, for a file that ran on SQLite alone there (a whole run's capture
    with the list as it was), those they reached on SQLite: the same statements.
    A site a file reached on SQLite and no test on PostgreSQL, where that file ran
    on both, is SQLite's own (returned apart, for a `sqlite-only:` line)."""
    data = json.loads(dump.read_text(encoding="utf-8"))
    seconds = _seconds_by_file(timed)
    always = {plain(test) for test in data.get("always_postgresql", [])}
    by_test = data["by_test"]
    on_sqlite: dict[str, set[str]] = {}
    for test, sites in by_test.get("sqlite", {}).items():
        on_sqlite.setdefault(file_of(test), set()).update(sites)
    ran: dict[str, set[str]] = {}  # what each file reached on PostgreSQL in the capture
    covered: set[str] = set()
    for test, sites in by_test.get("postgresql", {}).items():
        ran.setdefault(file_of(test), set()).update(sites)
        if plain(test) in always or file_of(test) in fixed:
            covered.update(sites)
    reached_postgresql = set().union(*ran.values())
    # Each database's own: what a file that ran on both reached on SQLite alone.
    own = {site for name in ran for site in on_sqlite.get(name, set()) - reached_postgresql}
    # A file that did not run on PostgreSQL would reach there what it reached on SQLite.
    on_postgresql = {name: ran.get(name, sites) for name, sites in on_sqlite.items()}
    for name, sites in on_postgresql.items():
        if name in fixed:
            covered.update(sites - own)
    reached_sqlite = set().union(*on_sqlite.values())
    wanted = reached_sqlite - own - covered

    def cost(name: str) -> float:
        spent = seconds.get(name, {})
        return max(spent.get("postgresql", 0.0), 1.4 * spent.get("sqlite", 0.0), 0.01)

    chosen: list[str] = []
    left = set(wanted)
    while left:
        best = max(
            (name for name in on_postgresql if name not in fixed and name not in chosen),
            key=lambda name: (len(on_postgresql[name] & left) / cost(name), -cost(name)),
        )
        if not on_postgresql[best] & left:
            break
        chosen.append(best)
        left -= on_postgresql[best]
    for name in sorted(chosen, key=cost, reverse=True):
        others = set().union(*(on_postgresql[other] for other in chosen if other != name))
        if not (on_postgresql[name] & wanted) - others:
            chosen.remove(name)
    result = [(name, len(on_postgresql[name] & wanted), cost(name)) for name in chosen]
    return sorted(result), {"own": sorted(own), "left": sorted(left), "seconds": seconds}


def main(arguments: list[str]) -> int:
    """`python -m tests.support.statement_sites choose DUMP TIMES`: the files to
    list below `# == cover ==` (the files above it are fixed), from a capture's
    dump and its times (`--junitxml`, or a timeline of JSON lines)."""
    if len(arguments) != 3 or arguments[0] != "choose":
        print(main.__doc__)
        return 2
    text = LIST_FILE.read_text(encoding="utf-8")
    fixed = listed_files_text(text.split("# == cover ==", 1)[0])
    chosen, extra = choose(Path(arguments[1]), Path(arguments[2]), fixed)
    seconds = extra["seconds"]
    total = sum(part.get("postgresql", 0.0) for part in seconds.values())
    fixed_cost = sum(seconds.get(name, {}).get("postgresql", 0.0) for name in fixed)
    print(f"# PostgreSQL test-seconds in the capture: {total:.1f}")
    print(f"# the fixed groups: {len(fixed)} files, {fixed_cost:.1f} s")
    print(f"# the cover: {len(chosen)} files, {sum(c for _, _, c in chosen):.1f} s")
    for site in extra["own"]:
        print(f"# reached on SQLite alone in the capture: {site}")
    for site in extra["left"]:
        print(f"# not covered: {site}")
    for name, count, cost in chosen:
        print(f"{name}  # {count} sites, {cost:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
