"""``db_rows``: rows left behind in the test databases, each with the stack that inserted it.

Writes are seen at the SQL level through every connection's
``execute_wrappers`` (``save()``, ``create()``, ``bulk_create()``, many-to-many
adds, ``loaddata`` and raw cursors alike), except inside the atomic blocks
that ``TestCase`` and ``django_db`` open to roll back, whose writes cannot
outlive the test. After a test only the tables written
since the previous check point are counted (one query per database); where a
wider scope sets up or ends, every table is counted, which also catches writers
outside Django's connections. Rows are identified only when a count differs
from the baseline, and each new row is matched to an insert of the same
interval by its primary key (SQLite) or its values, so that the stack that
created it is known even when a rolled-back transaction let the key be reused.
Insert records live one interval only.

The check only reads, through the raw DB-API connection (not Django's
cursor, so it shows in no query log and passes pytest-django's and
``SimpleTestCase``'s database blockers), inside a savepoint when a transaction
is open on PostgreSQL. It reads only databases whose name is a test
database's, and is switched off with an error when a write is seen on any other.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Hashable, Iterable
from functools import cached_property
from itertools import count
from typing import Any, Final

from django.apps import apps
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.creation import TEST_DATABASE_PREFIX

from django_isolation import origin
from django_isolation.checks import Change, register
from django_isolation.checks._database import TAP, DatabaseCheck, Reader, database_names, is_test_database
from django_isolation.checks._thread_locals import thread_local

TableKey = tuple[str, str]
MAX_ROWS_SHOWN: Final = 20
MAX_NATURAL_ROWS: Final = 2000  # content types and permissions: each new one is identified (they are few)
STACK_DEPTH: Final = 32  # from the statement to the line that made it: ~12 frames for save(), ~25 for loaddata
SKIPPED_TABLES: Final = frozenset({"django_migrations"})
ADVICE: Final = (
    "create rows inside django.test.TestCase (each test is rolled back) or pytest's django_db mark, "
    "or delete them in the scope that created them; a TransactionTestCase flush hides this from later "
    "tests only by luck of order"
)
ADVICE_DELETED: Final = (
    "rows that existed when the run started were deleted: a TransactionTestCase (or django_db(transaction=True)) "
    "flush removes rows of data migrations unless serialized_rollback = True, and with it leaves the tables empty "
    "until the next serialized test; run such tests last (Django's runner does) or restore the rows"
)
ADVICE_LEAKED_MODEL: Final = (
    "post_migrate (sent by a TransactionTestCase or migrator flush) created this row for {model}, a model that "
    "was not in the app registry when the run started: see the apps_registry finding for {model}, and define that "
    "model inside django.test.utils.isolate_apps"
)

_WRITE = re.compile(
    r"\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+[\"`\[]?([\w.]+)", re.IGNORECASE
)
_INSERT_COLUMNS = re.compile(
    r"\s*(?:INSERT|REPLACE)(?:\s+OR\s+\w+)?\s+INTO\s+\S+\s*\(([^)]*)\)\s*VALUES", re.IGNORECASE
)
_WRITE_HEADS: Final = frozenset({"INSERT", "UPDATE", "DELETE", "TRUNCA", "REPLAC"})
_SAVEPOINT_HEADS: Final = frozenset({"SAVEPO", "ROLLBA", "RELEAS"})
_SCHEMA_HEADS: Final = frozenset({"CREATE", "DROP T", "DROP S", "ALTER ", "RENAME"})


class _Insert:
    """One INSERT seen since the last check point: its statement and where it came from.

    The statement is parsed only when a leftover row must be matched with it, and once. (This module's records are
    plain classes: a dataclass costs about 0.2 ms to define, at every checked run.)
    """

    def __init__(self, table: str, sql: str, params: Any, many: bool, stack: origin.RawStack, last_row_id: Any) -> None:
        self.table, self.sql, self.params, self.many = table, sql, params, many
        self.stack, self.last_row_id = stack, last_row_id

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        return _inserted_rows(self.sql, self.params, self.many)


class _Savepoint:
    """An open savepoint, with what was dirty and pending when it was made (or last rolled back to)."""

    __slots__ = ("dirty_before", "interval", "name", "pending_before", "written")

    def __init__(self, name: str, interval: int, dirty_before: set[str] | None, pending_before: int) -> None:
        self.name, self.interval, self.dirty_before, self.pending_before = name, interval, dirty_before, pending_before
        self.written: set[str] | None = set()


class _Writes:
    """What one database was seen to write since the last check point, with savepoint rollbacks undone.

    Writes rolled back to a savepoint made in the same interval are forgotten
    (an inner ``atomic()`` block that failed); when a check point came
    between, the tables written since the savepoint are counted again.
    """

    def __init__(self) -> None:
        self.dirty: set[str] | None = set()  # None: every table
        self.pending: list[_Insert] = []
        self._savepoints: list[_Savepoint] = []
        self._interval = 0

    def write(self, table: str | None) -> None:
        for savepoint in self._savepoints:
            if savepoint.written is not None:
                if table is None:
                    savepoint.written = None
                else:
                    savepoint.written.add(table)
        if table is None:
            self.dirty = None
        elif self.dirty is not None:
            self.dirty.add(table)

    def savepoint(self, name: str) -> None:
        dirty = None if self.dirty is None else set(self.dirty)
        self._savepoints.append(_Savepoint(name, self._interval, dirty, len(self.pending)))

    def rollback_to(self, name: str) -> None:
        savepoint = self._find(name)
        if savepoint is None:
            return
        if savepoint.interval == self._interval:
            self.dirty = None if savepoint.dirty_before is None else set(savepoint.dirty_before)
            del self.pending[savepoint.pending_before :]
        elif savepoint.written is None or self.dirty is None:
            self.dirty = None
        else:
            self.dirty |= savepoint.written
        index = self._savepoints.index(savepoint)
        self._savepoints[index:] = []
        self.savepoint(name)  # it is still open, as if made now

    def release(self, name: str) -> None:
        savepoint = self._find(name)
        if savepoint is not None:
            self._savepoints[self._savepoints.index(savepoint) :] = []

    def checked(self) -> None:
        """A check point counted what was dirty (most check points find nothing dirty: nothing is allocated)."""
        if self.dirty is None or self.dirty:
            self.dirty = set()
        if self.pending:
            self.pending = []
        self._interval += 1

    def _find(self, name: str) -> _Savepoint | None:
        return next((s for s in reversed(self._savepoints) if s.name == name), None)


class _Row:
    """A row present now that was not there at the baseline."""

    __slots__ = ("frames", "leaked_model", "pk", "serial", "text")

    def __init__(
        self, pk: Any, text: str, serial: int, frames: tuple[origin.Frame, ...], leaked_model: str | None = None
    ) -> None:
        self.pk, self.text, self.serial, self.frames = pk, text, serial, frames
        self.leaked_model = leaked_model  # a content type's or permission's model, not registered at the baseline


class _TableState:
    """How one table differs from its baseline at the last check point."""

    __slots__ = ("count", "deleted", "new_rows")

    def __init__(self, count: int) -> None:
        self.count = count
        self.new_rows: dict[Any, _Row] = {}
        self.deleted: tuple[Any, ...] = ()


class _Database:
    """A watched database: its tables, their primary key columns and their baseline."""

    __slots__ = ("alias", "baseline_counts", "baseline_ids", "name", "natural", "pk_columns", "sequences", "states")

    def __init__(
        self,
        alias: str,
        name: str,
        pk_columns: dict[str, str | None],
        baseline_counts: dict[str, int],
        baseline_ids: dict[str, frozenset[Any]],
        natural: dict[str, str],
        sequences: dict[str, int] | None,
    ) -> None:
        self.alias, self.name, self.pk_columns, self.baseline_counts = alias, name, pk_columns, baseline_counts
        self.baseline_ids = baseline_ids  # each row's identity: its primary key, or its natural key
        self.natural = natural  # table -> a query of (pk, *natural key) for rows post_migrate re-creates
        self.sequences = sequences  # table -> its key sequence's value at the last sweep; None: unknown
        self.states: dict[str, _TableState] = {}


@register
class DbRowsCheck(DatabaseCheck):
    """Rows left in any table of any test database, with the stack of the insert that made them."""

    name = "db_rows"
    heads = _WRITE_HEADS | _SAVEPOINT_HEADS | _SCHEMA_HEADS

    def __init__(self) -> None:
        super().__init__()
        self._databases: dict[str, _Database] = {}
        self._writes: dict[str, _Writes] = {}
        self._in_transaction: dict[str, bool] = {}
        self._refused: dict[str, str] = {}
        self._test_databases: set[tuple[str, Any]] = set()  # (alias, NAME) seen to be a test database
        self._serials = count(1)
        self._fingerprint: Hashable = ()
        self._names: tuple[Any, ...] = ()
        self._unreadable: set[tuple[str, str]] = set()
        self._models_at_start: frozenset[tuple[str, str]] | None = None  # (app label, model name) at the baseline
        self._statements: list[tuple[str, str]] = []  # (alias, sql) of the running test, while leaks are live
        self._threads = thread_local(connections._connections)

    def fingerprint(self, sweep: bool) -> Hashable:
        if self._refused:
            alias, name = next(iter(self._refused.items()))
            raise RuntimeError(
                f"refusing to read database {name!r} (alias {alias!r}): a write was seen on it and it is not a "
                f"test database (its name neither starts with {TEST_DATABASE_PREFIX!r} nor is TEST['NAME'])"
            )
        names = database_names()
        if names != self._names:  # a test database was set up or destroyed
            self._names = names
            self._forget_gone_databases()
            self._watch_new_databases()
        updated = False
        deferred = set()
        for database in self._databases.values():
            open_now, ended = self._transaction_moves(database.alias)
            if open_now and not sweep:
                deferred.add(database.alias)  # uncommitted writes: counted once the transaction ends
                continue
            tables = self._tables_to_count(database, sweep, ended)
            if tables:
                self._update(database, tables, self._writes_of(database.alias).pending)
                updated = True
        for alias, writes in self._writes.items():
            if alias not in deferred:
                writes.checked()
        self._reader.schema_changed.clear()
        if updated:
            self._keep_statements(any(db.states for db in self._databases.values()))
            self._fingerprint = tuple(
                (database.alias, table, state.count, tuple(state.new_rows), state.deleted)
                for database in self._databases.values()
                for table, state in sorted(database.states.items())
            )
        return self._fingerprint

    def _tables_to_count(self, database: _Database, sweep: bool, transaction_ended: bool) -> list[str]:
        dirty = self._writes_of(database.alias).dirty
        if dirty is None:
            return list(database.pk_columns)
        if not (dirty or sweep or transaction_ended and database.states):
            return []
        tables = set(dirty)
        if transaction_ended:  # the rollback or commit of a transaction is no statement
            tables |= database.states.keys()
        if sweep:
            moved = self._moved_since_last_sweep(database)
            if moved is None:
                return list(database.pk_columns)
            tables |= moved
        return sorted(t for t in tables if t in database.pk_columns)

    def _moved_since_last_sweep(self, database: _Database) -> set[str] | None:
        """Tables whose key sequence moved (an insert from anywhere), and those without one; None: all."""
        if database.sequences is None:
            return None
        now = self._reader.read(connections[database.alias], _sequences, connections[database.alias])
        if now is None:
            return None
        moved = {t for t, value in now.items() if database.sequences.get(t) != value}
        database.sequences = now
        return moved | {t for t in database.pk_columns if t not in now}

    def capture(self) -> dict[TableKey, _TableState]:
        return {(db.alias, table): state for db in self._databases.values() for table, state in db.states.items()}

    def diff(self, baseline: dict[TableKey, _TableState], current: dict[TableKey, _TableState]) -> list[Change]:
        # A capture holds only differences from this check's own baselines, taken per database when a
        # test database appears (under pytest-django, after the session started): `baseline` is empty.
        changes: list[Change] = []
        of_leaked_models: dict[tuple[str, str], list[tuple[str, _Row]]] = defaultdict(list)
        for (alias, table), state in current.items():
            database = self._databases[alias]
            for row in state.new_rows.values():
                if row.leaked_model:
                    of_leaked_models[(alias, row.leaked_model)].append((table, row))
                else:
                    changes.append(self._new_row_change(alias, table, row))
            hidden = state.count - database.baseline_counts[table] - len(state.new_rows) + len(state.deleted)
            if hidden:
                changes.append(self._count_change(alias, table, state, hidden))
            if state.deleted:
                changes.append(self._deleted_change(alias, table, state))
        changes += [_leaked_model_change(alias, model, rows) for (alias, model), rows in of_leaked_models.items()]
        return changes

    def test_started(self) -> None:
        """A new test starts: forget the statements of the previous one."""
        self._statements.clear()

    def touched(self, change: Change) -> str | None:
        """Evidence that the running test came near `change`: one of its statements named the table."""
        alias, table = change.details["database"], change.details["table"]
        if any(a == alias and table in sql for a, sql in self._statements):
            return f"it queried {table} (database {alias!r})"
        return None

    def _keep_statements(self, leaks_live: bool) -> None:
        """While some table differs from its baseline, keep each test's statements (before they run)."""
        if leaks_live:
            TAP.watch(self._keep_statement)
        else:
            TAP.unwatch(self._keep_statement)
            self._statements.clear()

    def _keep_statement(self, alias: str, sql: str) -> None:
        self._statements.append((alias, sql))

    def _statement(self, head: str, sql: str, params: Any, many: bool, context: dict[str, Any]) -> None:
        connection = context["connection"]
        if head in _SCHEMA_HEADS:
            self._reader.schema_changed.add(connection.alias)
            return
        # Inside an atomic block that a test framework opened to roll back at its end (Django's TestCase, and
        # pytest-django's django_db, mark theirs _from_testcase), nothing written survives: no count, no stack.
        # A loop here, not a function or any(): this runs for most writes of a suite.
        for block in connection.atomic_blocks:
            if block._from_testcase:
                return
        if head in _WRITE_HEADS:
            self._record_write(connection, context["cursor"], head, sql, params, many)
        elif head in _SAVEPOINT_HEADS:
            self._record_savepoint(connection.alias, sql)

    def _writes_of(self, alias: str) -> _Writes:
        writes = self._writes.get(alias)
        if writes is None:
            writes = self._writes[alias] = _Writes()
        return writes

    def _transaction_moves(self, alias: str) -> tuple[bool, bool]:
        """Whether a transaction is open now, and whether the one open at the last check point has ended."""
        made = None if self._threads is None else self._threads.__dict__
        connection = connections[alias] if made is None else made.get(alias)  # made, without asgiref's cost
        now = connection is not None and connection.connection is not None and connection.in_atomic_block
        before, self._in_transaction[alias] = self._in_transaction.get(alias, False), now
        return now, before and not now

    def _record_savepoint(self, alias: str, sql: str) -> None:
        words = sql.split()  # SAVEPOINT n | ROLLBACK TO SAVEPOINT n | RELEASE SAVEPOINT n
        if len(words) < 2 or words[-2].upper() != "SAVEPOINT":
            return
        name = words[-1].strip('"`;')
        writes = self._writes_of(alias)
        verb = words[0].upper()
        if verb == "SAVEPOINT":
            writes.savepoint(name)
        elif verb == "ROLLBACK":
            writes.rollback_to(name)
        elif verb == "RELEASE":
            writes.release(name)

    def _record_write(
        self, connection: BaseDatabaseWrapper, cursor: Any, head: str, sql: str, params: Any, many: bool
    ) -> None:
        alias = connection.alias
        name = connection.settings_dict.get("NAME")
        if (alias, name) not in self._test_databases:  # a name is a test database's or not, once and for all
            if not is_test_database(connection):
                self._refused.setdefault(alias, str(name))
                return
            self._test_databases.add((alias, name))
        match = _WRITE.match(sql)
        writes = self._writes_of(alias)
        if head == "TRUNCA" or match is None:
            writes.write(None)
            return
        table = match.group(1).split(".")[-1]
        writes.write(table)
        database = self._databases.get(alias)
        if head in ("INSERT", "REPLAC") and database is not None and table in database.pk_columns:
            last_row_id = cursor.cursor.lastrowid if connection.vendor == "sqlite" and not many else None
            stack = origin.raw_stack(sys._getframe(1), depth=STACK_DEPTH)
            writes.pending.append(_Insert(table, sql, params, many, stack, last_row_id))

    def _forget_gone_databases(self) -> None:
        for alias in [a for a, db in self._databases.items() if not self._still_there(db)]:
            del self._databases[alias]
            self._reader.close(alias)

    def _still_there(self, database: _Database) -> bool:
        connection = connections[database.alias]
        return connection.settings_dict.get("NAME") == database.name and is_test_database(connection)

    def _watch_new_databases(self) -> None:
        if self._models_at_start is None:
            self._models_at_start = frozenset(
                (model._meta.app_label, model._meta.model_name) for model in apps.get_models(include_auto_created=True)
            )
        for connection in connections.all():
            if connection.alias in self._databases or not is_test_database(connection):
                continue
            where = (connection.alias, str(connection.settings_dict.get("NAME")))
            if connection.settings_dict.get("TEST", {}).get("MIRROR") or where in self._unreadable:
                continue
            database = _baseline(connection, self._reader)
            if database is None:
                self._unreadable.add(where)  # not tried again while the alias keeps this name
            else:
                self._databases[connection.alias] = database

    def _update(self, database: _Database, tables: list[str], pending: list[_Insert]) -> None:
        counts = self._reader.read(connections[database.alias], _count, database.alias, tables)
        if counts is None:
            return
        for table, number in counts.items():
            previous = database.states.get(table)
            natural = table in database.natural  # re-created rows: equal counts prove nothing
            if number == database.baseline_counts[table] and not natural:
                database.states.pop(table, None)
            elif previous is None or previous.count != number or natural:
                state = self._identify(database, table, number, previous, pending)
                if state.new_rows or state.deleted or number != database.baseline_counts[table]:
                    database.states[table] = state
                else:
                    database.states.pop(table, None)

    def _identify(
        self, database: _Database, table: str, number: int, previous: _TableState | None, pending: list[_Insert]
    ) -> _TableState:
        state = _TableState(number)
        pk_column = database.pk_columns[table]
        if pk_column is None:
            return state
        connection = connections[database.alias]
        baseline = database.baseline_ids[table]
        rows = self._reader.read(
            connection, _rows_of, database.alias, table, pk_column, baseline, database.natural.get(table)
        )
        if rows is None:
            return state
        new, deleted = rows
        known = previous.new_rows if previous else {}
        for pk, identity, values in new:
            row = known.get(pk) or self._new_row(table, pk, identity, values, pending)
            state.new_rows[pk] = row
        state.deleted = deleted
        return state

    def _new_row(self, table: str, pk: Any, identity: Any, values: dict[str, Any], pending: list[_Insert]) -> _Row:
        insert = _matching_insert([i for i in pending if i.table == table], pk, values)
        frames = origin.user_frames_of(insert.stack) if insert else ()
        model = None
        if isinstance(identity, tuple) and identity[:2] not in (self._models_at_start or ()):
            model = ".".join(map(str, identity[:2]))
        return _Row(pk, _row_text(table, values), next(self._serials), frames, model)

    def _new_row_change(self, alias: str, table: str, row: _Row) -> Change:
        return Change(
            key=f"{alias}:{table}:{row.pk}",
            token=row.serial,
            summary=f"row left in {table} (database {alias!r}): {row.text}",
            before=None,
            after=row.text,
            advice=ADVICE,
            details={"database": alias, "table": table, "pk": _json_value(row.pk), "row": row.text},
            origin=row.frames,
            subjects=(table,),
        )

    def _count_change(self, alias: str, table: str, state: _TableState, hidden: int) -> Change:
        baseline = self._databases[alias].baseline_counts[table]
        return Change(
            key=f"{alias}:{table}:count",
            token=(state.count, hidden),
            summary=f"{table} (database {alias!r}) holds {state.count} rows, {baseline} when the run started",
            before=str(baseline),
            after=str(state.count),
            advice=ADVICE,
            details={"database": alias, "table": table, "count": state.count, "baseline_count": baseline},
            subjects=(table,),
        )

    def _deleted_change(self, alias: str, table: str, state: _TableState) -> Change:
        shown = [_identity_text(identity) for identity in state.deleted[:MAX_ROWS_SHOWN]]
        return Change(
            key=f"{alias}:{table}:deleted",
            token=state.deleted,
            summary=f"{len(state.deleted)} row(s) of the baseline deleted from {table} (database {alias!r})",
            before=f"pk in {shown}",
            after=None,
            advice=ADVICE_DELETED,
            details={"database": alias, "table": table, "deleted_pks": shown, "deleted": len(state.deleted)},
            subjects=(table,),
        )


def _leaked_model_change(alias: str, model: str, rows: list[tuple[str, _Row]]) -> Change:
    """One finding for the content type and permissions post_migrate created for a model leaked into the registry."""
    tables = list(dict.fromkeys(table for table, _ in rows))
    texts = [row.text for _, row in rows]
    return Change(
        key=f"{alias}:rows of {model}",
        token=tuple(sorted(row.serial for _, row in rows)),
        summary=(
            f"{len(rows)} row(s) for {model}, a model added to the app registry during the run, left in "
            f"{', '.join(tables)} (database {alias!r}): post_migrate created them after a flush"
        ),
        before=None,
        after="; ".join(texts[:MAX_ROWS_SHOWN]),
        advice=ADVICE_LEAKED_MODEL.format(model=model),
        details={"database": alias, "table": tables[0], "tables": tables, "model": model, "rows": texts},
        subjects=(*tables, model.rpartition(".")[2]),
    )


def _baseline(connection: BaseDatabaseWrapper, reader: Reader) -> _Database | None:
    pk_columns = _pk_columns(connection, reader)
    counts = reader.read(connection, _count, connection.alias, list(pk_columns))
    if counts is None:
        return None
    natural = {table: query for table, query in _natural_key_queries(connection).items() if table in pk_columns}
    ids: dict[str, frozenset[Any]] = {}
    for table, pk_column in pk_columns.items():
        if counts[table] and pk_column:
            found = reader.read(connection, _ids, connection, table, pk_column, natural.get(table))
            ids[table] = frozenset(found or ())
        else:
            ids[table] = frozenset()
    sequences = reader.read(connection, _sequences, connection)
    name = str(connection.settings_dict.get("NAME"))
    return _Database(connection.alias, name, pk_columns, counts, ids, natural, sequences)


def _natural_key_queries(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """Queries of ``(pk, app label, model[, codename])`` for content types and permissions, where installed.

    A flush deletes these rows and ``post_migrate`` creates them again with new
    primary keys: they are the same rows when their natural keys are equal.
    """
    quote = connection.ops.quote_name
    try:
        content_type = apps.get_model("contenttypes", "ContentType")
    except LookupError:
        return {}
    ct = content_type._meta
    ct_table, ct_pk = quote(ct.db_table), quote(ct.pk.column)
    label, model = quote(ct.get_field("app_label").column), quote(ct.get_field("model").column)
    queries = {ct.db_table: f"SELECT {ct_pk}, {label}, {model} FROM {ct_table}"}
    try:
        permission = apps.get_model("auth", "Permission")._meta
    except LookupError:
        return queries
    fk, codename = quote(permission.get_field("content_type").column), quote(permission.get_field("codename").column)
    pk, table = quote(permission.pk.column), quote(permission.db_table)
    queries[permission.db_table] = (
        f"SELECT p.{pk}, c.{label}, c.{model}, p.{codename} FROM {table} p LEFT JOIN {ct_table} c ON c.{ct_pk} = p.{fk}"
    )
    return queries


def _ids(
    cursor: Any, connection: BaseDatabaseWrapper, table: str, pk_column: str, natural: str | None
) -> dict[Any, Any]:
    """Identity -> primary key of every row: the key itself, or the natural key that `natural` selects after it."""
    if natural is None:
        return {pk: pk for pk in _pks(cursor, connection, table, pk_column)}
    cursor.execute(natural)
    return {tuple(key): pk for pk, *key in cursor.fetchall()}


def _identity_text(identity: Any) -> Any:
    return ".".join(map(str, identity)) if isinstance(identity, tuple) else _json_value(identity)


def _pk_columns(connection: BaseDatabaseWrapper, reader: Reader) -> dict[str, str | None]:
    """Every table of the database (but Django's migration records) and its primary key column."""
    by_table = {
        model._meta.db_table: model._meta.pk.column
        for model in apps.get_models(include_auto_created=True)
        if model._meta.pk is not None
    }
    tables = reader.read(connection, connection.introspection.table_names) or list(by_table)
    return {table: by_table.get(table) for table in tables if table not in SKIPPED_TABLES}


def _count(cursor: Any, alias: str, tables: list[str]) -> dict[str, int]:
    quote = connections[alias].ops.quote_name
    if not tables:
        return {}
    cursor.execute("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables))
    return dict(zip(tables, cursor.fetchone()))


_SEQUENCE_QUERIES: Final = {
    "postgresql": """
        SELECT t.relname, COALESCE(s.last_value, 0)
        FROM pg_sequences s
        JOIN pg_namespace n ON n.nspname = s.schemaname
        JOIN pg_class c ON c.relname = s.sequencename AND c.relnamespace = n.oid
        JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        JOIN pg_class t ON t.oid = d.refobjid
        WHERE s.schemaname = current_schema()
    """,
    # Every AUTOINCREMENT table, at 0 until its first insert makes its row in sqlite_sequence.
    "sqlite": """
        SELECT m.name, COALESCE(s.seq, 0)
        FROM sqlite_master m LEFT JOIN sqlite_sequence s ON s.name = m.name
        WHERE m.type = 'table' AND m.sql LIKE '%AUTOINCREMENT%'
    """,
}


def _sequences(cursor: Any, connection: BaseDatabaseWrapper) -> dict[str, int] | None:
    """Table -> the value of its key sequence, which every insert moves (rolled back or not on PostgreSQL)."""
    query = _SEQUENCE_QUERIES.get(connection.vendor)
    if query is None:
        return None
    cursor.execute(query)
    return {table: int(value) for table, value in cursor.fetchall()}


def _pks(cursor: Any, connection: BaseDatabaseWrapper, table: str, pk_column: str) -> list[Any]:
    quote = connection.ops.quote_name
    cursor.execute(f"SELECT {quote(pk_column)} FROM {quote(table)}")
    return [row[0] for row in cursor.fetchall()]


def _rows_of(
    cursor: Any, alias: str, table: str, pk_column: str, baseline: frozenset[Any], natural: str | None
) -> tuple[list[tuple[Any, Any, dict[str, Any]]], tuple[Any, ...]]:
    """The rows not in the baseline (at most MAX_ROWS_SHOWN: pk, identity, values), and the baseline identities gone."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    if not baseline and natural is None:  # every row is new: one query
        cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY {quote(pk_column)} LIMIT {MAX_ROWS_SHOWN}")
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, values)) for values in cursor.fetchall()]
        return [(row[pk_column], row[pk_column], row) for row in rows], ()
    ids = _ids(cursor, connection, table, pk_column, natural)
    new = sorted(ids.keys() - baseline, key=str)
    deleted = tuple(sorted(baseline - ids.keys(), key=str))
    identities = {ids[identity]: identity for identity in new[: MAX_NATURAL_ROWS if natural else MAX_ROWS_SHOWN]}
    shown = list(identities)
    if not shown:
        return [], deleted
    placeholders = ", ".join(["%s"] * len(shown)) if connection.vendor != "sqlite" else ", ".join("?" * len(shown))
    cursor.execute(f"SELECT * FROM {quote(table)} WHERE {quote(pk_column)} IN ({placeholders})", shown)
    columns = [column[0] for column in cursor.description]
    rows = [dict(zip(columns, values)) for values in cursor.fetchall()]
    by_pk = {row[pk_column]: row for row in rows}
    return [(pk, identities[pk], by_pk[pk]) for pk in shown if pk in by_pk], deleted


def _inserted_rows(sql: str, params: Any, many: bool) -> list[dict[str, Any]]:
    """Column -> value for each row an INSERT writes, when its column list can be read."""
    match = _INSERT_COLUMNS.match(sql)
    if match is None or params is None:
        return []
    columns = [column.strip().strip('"`[]') for column in match.group(1).split(",")]
    groups = list(params) if many else [params]
    rows: list[dict[str, Any]] = []
    for group in groups:
        values = list(group) if isinstance(group, (list, tuple)) else []
        rows += [dict(zip(columns, values[i : i + len(columns)])) for i in range(0, len(values), len(columns))]
    return rows


def _matching_insert(inserts: Iterable[_Insert], pk: Any, values: dict[str, Any]) -> _Insert | None:
    """The latest insert of the interval whose row is `pk` (SQLite) or has the same values."""
    candidates = list(inserts)[::-1]
    for insert in candidates:
        if insert.last_row_id is not None and insert.last_row_id == pk and len(insert.rows) <= 1:
            return insert
    for insert in candidates:
        if any(_same_values(row, values) for row in insert.rows):
            return insert
    return candidates[0] if len(candidates) == 1 else None


def _same_values(inserted: dict[str, Any], stored: dict[str, Any]) -> bool:
    compared = [column for column in inserted if column in stored]
    return bool(compared) and all(inserted[c] == stored[c] or str(inserted[c]) == str(stored[c]) for c in compared)


def _row_text(table: str, values: dict[str, Any], width: int = 120) -> str:
    shown = ", ".join(f"{column}={_short(value)}" for column, value in values.items())
    text = f"{table}({shown})"
    return text if len(text) <= width else text[: width - 3] + "..."


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_value(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
