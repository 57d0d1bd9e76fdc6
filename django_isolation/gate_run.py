"""What a run does for the gate besides testing, on both fronts.

* ``--isolation-replay FILE``: run exactly the tests FILE lists, in that order
  (one test id a line; blank lines and lines starting with ``#`` are skipped;
  or a JSON report, ``REPORT.json@WORKER`` for one worker's order),
  after every reordering of the runner (pytest-django's database tests first,
  Django's ``TestCase`` before ``TransactionTestCase``).
* ``--isolation-gate-survey FILE``: write which tests built a
  django-test-migrations ``Migrator`` (through the ``migrator`` fixture,
  ``MigratorTestCase`` or by hand) and each test's Django tags.
* ``--isolation-gate-database first|reuse|last`` (with ``--reuse-db`` /
  ``--keepdb``): the first run copies each test database right after building
  it; every later run puts that copy back right after setting the databases
  up, so that it starts from the state the build made; the last run also
  destroys the test databases and their copies at its end; ``drop``, in a run
  of no test (an empty replay), drops the test databases and copies that
  earlier runs left, if any (find-polluter's last step).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

Test = TypeVar("Test")
MIGRATOR: Final = ("django_test_migrations.migrator", "Migrator")
SNAPSHOT_SUFFIX: Final = "isolation_gate"
SNAPSHOT_VENDORS: Final = frozenset({"postgresql", "sqlite"})


def read_replay(path: str) -> list[str]:
    """The test ids of a replay file, in order, each once; or the order one worker of a JSON report ran
    (``REPORT.json@gw1``; ``REPORT.json`` when the report has one worker)."""
    file, worker = path, None
    if not os.path.exists(path) and "@" in path:
        file, _, worker = path.rpartition("@")
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"--isolation-replay: cannot read {file}: {error.strerror}") from None
    if text.lstrip().startswith("{"):
        return _worker_order(text, file, worker)
    ids = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(test for test in ids if test and not test.startswith("#")))


def write_replay(path: Path, tests: Iterable[str]) -> None:
    """Write `tests` as a replay file (one test id a line), which :func:`read_replay` reads back."""
    path.write_text("".join(f"{test}\n" for test in tests), encoding="utf-8")


def _worker_order(text: str, file: str, worker: str | None) -> list[str]:
    """The order `worker` ran in the JSON report `text` (read from `file`)."""
    try:
        orders = json.loads(text)["order"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"--isolation-replay: {file} is neither a list of test ids nor a report") from None
    if worker is None and len(orders) != 1:
        raise ValueError(f"--isolation-replay: {file} holds the orders of {', '.join(orders)}: name one, {file}@WORKER")
    worker = worker if worker is not None else next(iter(orders))
    if worker not in orders:
        raise ValueError(f"--isolation-replay: {file} has no worker {worker!r} (it has {', '.join(orders)})")
    return list(dict.fromkeys(orders[worker]))


def replayed(tests: Iterable[Test], ids: Sequence[str], id_of: Callable[[Test], str]) -> tuple[list[Test], list[Test]]:
    """`tests` put in the order of `ids`, and the tests `ids` does not list; ValueError names listed ids not found."""
    by_id: dict[str, Test] = {}
    others: list[Test] = []
    for test in tests:
        test_id = id_of(test)
        if test_id in ids and test_id not in by_id:
            by_id[test_id] = test
        else:
            others.append(test)
    missing = [test_id for test_id in ids if test_id not in by_id]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ValueError(f"--isolation-replay: not among the collected tests: {shown}")
    return [by_id[test_id] for test_id in ids], others


class MigratorSurvey:
    """Notes the running test each time a ``Migrator`` is built; writes them with the tests' tags."""

    def __init__(self, current_test: Callable[[], str | None]) -> None:
        self._current_test = current_test
        self.migration_tests: dict[str, None] = {}
        self.tags: dict[str, list[str]] = {}
        self._patched: tuple[Any, Any] | None = None  # (the Migrator class, its own __init__)

    def start(self) -> None:
        """Wrap ``Migrator.__init__`` (when django-test-migrations is installed)."""
        try:
            module = __import__(MIGRATOR[0], fromlist=[MIGRATOR[1]])
        except ImportError:
            return
        cls = getattr(module, MIGRATOR[1])
        original = cls.__dict__["__init__"]
        survey = self

        def __init__(migrator: Any, *args: Any, **kwargs: Any) -> None:
            test = survey._current_test()
            if test is not None:
                survey.migration_tests[test] = None
            original(migrator, *args, **kwargs)

        cls.__init__ = __init__
        self._patched = (cls, original)

    def tagged(self, test_id: str, tags: Iterable[Hashable]) -> None:
        if tags:
            self.tags[test_id] = sorted(map(str, tags))

    def stop(self, path: str) -> None:
        """Unwrap and write ``{"migration_tests": [...], "tags": {test: [...]}}`` to `path`."""
        if self._patched is not None:
            cls, original = self._patched
            cls.__init__ = original
            self._patched = None
        data = {"migration_tests": list(self.migration_tests), "tags": self.tags}
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def database_names() -> dict[str, str]:
    """Each configured database's ``NAME`` now (before the test databases are set up: the real ones)."""
    from django.db import connections

    return {alias: str(connections[alias].settings_dict.get("NAME") or "") for alias in connections}


def _test_databases() -> list[Any]:
    """One connection per test database now set up (mirrors and in-memory databases left out)."""
    from django.db import connections

    from django_isolation.checks._database import is_test_database

    seen: dict[tuple[str, str], Any] = {}
    for connection in connections.all():
        name = str(connection.settings_dict.get("NAME") or "")
        memory = connection.vendor == "sqlite" and connection.creation.is_in_memory_db(name)
        mirror = (connection.settings_dict.get("TEST") or {}).get("MIRROR")
        if not (memory or mirror) and is_test_database(connection):
            seen.setdefault((connection.vendor, name), connection)
    return list(seen.values())


def prepare_test_databases(use: str, verbosity: int) -> None:
    """Right after the test databases are set up: keep a copy of each (the first run) or put it back (the others).

    A run that reuses a test database starts from the state the first run
    built, whatever the runs before it left there (rows, a schema a
    migration test did not migrate back). PostgreSQL and SQLite files only.
    """
    for connection in _test_databases():
        if connection.vendor not in SNAPSHOT_VENDORS:
            continue
        if use == "first":
            connection.creation.clone_test_db(SNAPSHOT_SUFFIX, verbosity=verbosity, keepdb=False)
        else:
            _restore(connection)


def _snapshot_name(connection: Any) -> str:
    return str(connection.creation.get_test_db_clone_settings(SNAPSHOT_SUFFIX)["NAME"])


def _restore(connection: Any) -> None:
    """Replace the test database by its copy, when the copy exists."""
    target, snapshot = connection.settings_dict["NAME"], _snapshot_name(connection)
    connection.close()
    if connection.vendor == "sqlite":
        if os.path.exists(snapshot):
            shutil.copyfile(snapshot, target)
        return
    getattr(connection, "close_pool", lambda: None)()  # Django 5.1+: a pool's connections too
    quote = connection.ops.quote_name
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [snapshot])
        if cursor.fetchone() is not None:
            cursor.execute(f"DROP DATABASE {quote(target)}")
            cursor.execute(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(snapshot)}")


def destroy_test_databases(before: dict[str, str], verbosity: int) -> None:
    """Destroy the test databases that replaced the names in `before`, then restore the names.

    Only a connection that now points at a test database (Django's ``test_``
    prefix, its ``TEST["NAME"]``, or an in-memory SQLite database) is touched;
    mirrors are skipped, and a database shared by several aliases is destroyed once.
    """
    from django.db import connections

    from django_isolation.checks._database import is_test_database

    destroyed: set[tuple[str, str]] = set()
    for alias, original in before.items():
        connection = connections[alias]
        name = str(connection.settings_dict.get("NAME") or "")
        if name == original or (connection.settings_dict.get("TEST") or {}).get("MIRROR"):
            continue
        if not is_test_database(connection):
            raise RuntimeError(f"django-isolation: {name!r} (alias {alias!r}) is not a test database")
        keep = (connection.vendor, name) in destroyed
        destroyed.add((connection.vendor, name))
        connection.creation.destroy_test_db(original, verbosity=verbosity, keepdb=keep)


def drop_test_databases(verbosity: int) -> None:
    """Drop the test databases (and their copies) that runs with ``--keepdb`` / ``--reuse-db`` left, if they exist.

    Called with the connections still naming the real databases: each test
    database is the one Django would name for it. PostgreSQL and SQLite files
    only; mirrors and in-memory databases are skipped.
    """
    from django.db import connections

    from django_isolation.checks._database import is_test_database

    dropped: set[tuple[str, str]] = set()
    for connection in connections.all():
        creation, name = connection.creation, connection.creation._get_test_db_name()
        memory = connection.vendor == "sqlite" and creation.is_in_memory_db(name)
        mirror = (connection.settings_dict.get("TEST") or {}).get("MIRROR")
        if memory or mirror or connection.vendor not in SNAPSHOT_VENDORS or (connection.vendor, name) in dropped:
            continue
        dropped.add((connection.vendor, name))
        real = connection.settings_dict["NAME"]
        connection.settings_dict["NAME"] = name  # as while the tests ran: the copy's name derives from it
        try:
            if not is_test_database(connection):
                raise RuntimeError(f"django-isolation: {name!r} (alias {connection.alias!r}) is not a test database")
            for database in (_snapshot_name(connection), name):
                _drop(connection, database, verbosity)
        finally:
            connection.settings_dict["NAME"] = real


def _drop(connection: Any, database: str, verbosity: int) -> None:
    if connection.vendor == "sqlite":
        if os.path.exists(database):
            os.remove(database)
            if verbosity >= 1:
                print(f"django-isolation: dropped test database {database}")
        return
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if cursor.fetchone() is not None:
            cursor.execute(f"DROP DATABASE {connection.ops.quote_name(database)}")
            if verbosity >= 1:
                print(f"django-isolation: dropped test database {database}")


def destroy_snapshots() -> None:
    """Destroy the copies :func:`prepare_test_databases` made (while the test databases are set up)."""
    for connection in _test_databases():
        if connection.vendor not in SNAPSHOT_VENDORS:
            continue
        snapshot = _snapshot_name(connection)
        if connection.vendor == "sqlite":
            if os.path.exists(snapshot):
                os.remove(snapshot)
            continue
        connection.close()
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(snapshot)}")
