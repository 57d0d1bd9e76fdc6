"""What the database checks share: one statement tap, a read-only reader, the test-database test.

``db_rows`` and ``db_schema`` both watch the SQL that runs through Django's
connections. They share one entry in every connection's ``execute_wrappers``
(:data:`TAP`), which classifies each statement once and calls only the
listeners of its kind: most statements of a suite are ``SELECT`` and cost one
call and a prefix test.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.creation import TEST_DATABASE_PREFIX

Listener = Callable[[str, str, Any, bool, dict[str, Any]], None]
"""Called as ``listener(head, sql, params, many, context)`` after each statement but a ``SELECT``.

`head` is the statement's first six characters, upper-cased (``INSERT``,
``SAVEPO``, ``CREATE``, ``DROP T``); `context` is Django's wrapper context
(``connection``, ``cursor``).
"""
Watcher = Callable[[str, str], None]
"""Called as ``watcher(alias, sql)`` before every statement, ``SELECT`` included."""


class StatementTap:
    """One wrapper in every connection's ``execute_wrappers`` while any check listens.

    The wrapper is a plain function (:attr:`wrapper`): Django calls it through a ``functools.partial`` for each
    statement, and calling a function from C costs less than calling an instance's ``__call__``.
    """

    def __init__(self) -> None:
        self._listeners: dict[Listener, frozenset[str]] = {}  # listener -> the heads it is called for
        self._by_head: dict[str, tuple[Listener, ...]] = {}
        self._watchers: list[Watcher] = []
        self._wrapped: list[BaseDatabaseWrapper] = []
        self.wrapper = self._make_wrapper()

    def listen(self, listener: Listener, heads: frozenset[str]) -> None:
        """Call `listener` after each statement whose head (see :data:`Listener`) is one of `heads`."""
        if not self._listeners:
            for connection in connections.all():
                connection.execute_wrappers.append(self.wrapper)
                self._wrapped.append(connection)
        self._listeners[listener] = heads
        self._index()

    def unlisten(self, listener: Listener) -> None:
        self._listeners.pop(listener, None)
        self._index()
        if not self._listeners:
            for connection in self._wrapped:
                if self.wrapper in connection.execute_wrappers:
                    connection.execute_wrappers.remove(self.wrapper)
            self._wrapped.clear()
            self._watchers.clear()

    def _index(self) -> None:
        heads = {head for listened in self._listeners.values() for head in listened}
        self._by_head = {head: tuple(f for f, of in self._listeners.items() if head in of) for head in heads}

    def watch(self, watcher: Watcher) -> None:
        """Also see every statement before it runs (one that fails touched its tables too)."""
        if watcher not in self._watchers:
            self._watchers.append(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def _make_wrapper(self) -> Callable[..., Any]:
        def wrapper(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]) -> Any:
            if sql.__class__ is not str:  # a psycopg Composed: built by hand, never by the ORM
                return execute(sql, params, many, context)
            if self._watchers:
                for watcher in self._watchers:
                    watcher(context["connection"].alias, sql)
            result = execute(sql, params, many, context)
            head = sql[:6]
            if head == "SELECT":  # the ORM's, most of a suite's statements (a comparison: startswith parses its args)
                return result
            listeners = self._by_head.get(head)  # the ORM writes its heads upper-cased
            if listeners is None:
                head = sql.lstrip()[:6].upper()
                listeners = self._by_head.get(head, ())
            for listener in listeners:
                listener(head, sql, params, many, context)
            return result

        return wrapper


TAP = StatementTap()
_NAME: Final = itemgetter("NAME")


class DatabaseCheck(ABC):
    """Base of the checks that listen to statements and read test databases through a :class:`Reader`."""

    heads: frozenset[str]
    """The statements' heads (see :data:`Listener`) that :meth:`_statement` is called for."""

    def __init__(self) -> None:
        self._reader = Reader()

    def start(self) -> None:
        TAP.listen(self._statement, self.heads)

    def release(self) -> None:
        """Close the private connections: a test database is about to be destroyed."""
        self._reader.close()

    def stop(self) -> None:
        self._reader.close()
        TAP.unlisten(self._statement)

    @abstractmethod
    def _statement(self, head: str, sql: str, params: Any, many: bool, context: dict[str, Any]) -> None:
        """A :data:`Listener`: see each statement but a ``SELECT``, after it ran."""


def database_names() -> tuple[Any, ...]:
    """The ``NAME`` of every configured database (Django sets ``""`` where none is given): it changes when a
    test database is set up or destroyed."""
    return tuple(map(_NAME, connections.settings.values()))


def is_test_database(connection: BaseDatabaseWrapper) -> bool:
    """True when `connection` points at a test database (Django's ``test_`` name, ``TEST['NAME']``, memory)."""
    settings = connection.settings_dict
    name = str(settings.get("NAME") or "")
    return (
        name.startswith(TEST_DATABASE_PREFIX)
        or name == (settings.get("TEST") or {}).get("NAME")
        or (connection.vendor == "sqlite" and (name == ":memory:" or name.startswith("file:memorydb_")))
    )


class Reader:
    """Reads through a database's raw DB-API connection, or a private one while Django's is closed.

    Django's own connection is used when open: it sees the test's uncommitted
    rows. Django's ``TestCase.tearDownClass`` closes connections; then a
    private autocommit connection reads the committed state instead. It stays
    open (idle, holding no lock) until :meth:`close`, which the fronts trigger
    before a test database is destroyed (an open one would block ``DROP
    DATABASE``).
    """

    def __init__(self) -> None:
        self._private: dict[str, Any] = {}
        self.schema_changed: set[str] = set()  # aliases with DDL since the last check point

    def read(self, connection: BaseDatabaseWrapper, query: Callable[..., Any], *args: Any) -> Any:
        """``query(cursor, *args)``; None when the database cannot answer now.

        In an open PostgreSQL transaction, after DDL, the query runs in a
        savepoint, so that a failing read (a table a test dropped) cannot abort
        the test's transaction.
        """
        driver_error = connection.Database.Error  # type: ignore[attr-defined]
        try:
            raw = connection.connection or self._private_connection(connection)
            cursor = raw.cursor()
        except driver_error:
            return None
        savepoint = (
            connection.connection is raw
            and connection.vendor == "postgresql"
            and connection.in_atomic_block
            and connection.alias in self.schema_changed
        )
        try:
            if savepoint:
                cursor.execute("SAVEPOINT django_isolation_read")
            try:
                result = query(cursor, *args)
            except driver_error:
                if not savepoint:
                    return None
                cursor.execute("ROLLBACK TO SAVEPOINT django_isolation_read")
                result = None
            if savepoint:
                cursor.execute("RELEASE SAVEPOINT django_isolation_read")
            return result
        except driver_error:
            return None
        finally:
            cursor.close()

    def close(self, alias: str | None = None) -> None:
        """Close the private connection of `alias` (of every alias when None)."""
        for name in [alias] if alias else list(self._private):
            raw = self._private.pop(name, None)
            if raw is not None:
                raw.close()

    def _private_connection(self, connection: BaseDatabaseWrapper) -> Any:
        raw = self._private.get(connection.alias)
        if raw is None:
            raw = connection.get_new_connection(connection.get_connection_params())
            if hasattr(raw, "autocommit"):
                raw.autocommit = True
            self._private[connection.alias] = raw
        return raw
