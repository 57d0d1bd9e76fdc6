"""``db_schema``: applied migrations and the schema of each test database, back at the baseline after each scope.

A test that migrates backwards and stays there (a django-test-migrations
``Migrator`` without ``reset()``, ``call_command("migrate", app, target)`` in a
``TransactionTestCase``), applies a migration forward and keeps it, or creates
a table with ``schema_editor`` and never drops it, leaves every later test a
different database: a missing column, an extra table whose next ``CREATE
TABLE`` fails with ``DuplicateTable``.

Schema statements (``CREATE``, ``ALTER``, ``DROP``, ``RENAME``) and writes to
``django_migrations`` are seen through every connection's
``execute_wrappers``. After a test the database is read only when one was seen
on it since the previous check point; where a module (or wider) ends, one
catalog query per database also catches DDL from outside Django's connections.
The schema is read in detail (a few catalog queries for all tables at once)
only when that catalog fingerprint moved. Reads go through
:class:`~django_isolation.checks._database.Reader`, on test databases of SQLite
and PostgreSQL only.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from django_isolation import origin
from django_isolation.checks import Change, register
from django_isolation.checks._database import DatabaseCheck, database_names, is_test_database

MIGRATIONS_TABLE: Final = "django_migrations"
STACK_DEPTH: Final = 64  # from the statement to the test: ~40 frames under call_command("migrate")
MAX_STATEMENTS: Final = 2000  # per database and interval; a full migrate runs a few hundred
_SCHEMA_HEADS: Final = frozenset({"CREATE", "ALTER ", "RENAME", "DROP T", "DROP I", "DROP V", "DROP S", "DROP M"})
_WRITE_HEADS: Final = frozenset({"INSERT", "DELETE", "UPDATE", "TRUNCA", "REPLAC"})

ADVICE_MIGRATED: Final = (
    "a test that migrates must migrate back before its scope ends: with django-test-migrations call "
    "migrator.reset() (the pytest migrator fixture does) and keep MigratorTestCase.tearDown's super().tearDown(); "
    "after call_command('migrate', app, target), migrate back to where the run started in tearDown or a finalizer"
)
ADVICE_DDL: Final = (
    "drop what the test created with schema_editor in the same scope (editor.delete_model() in tearDown or "
    "addCleanup), or run the DDL inside django.test.TestCase, whose rollback undoes it; a table left behind makes "
    "the next CREATE TABLE fail (DuplicateTable) and survives django-test-migrations' table drop when no "
    "registered model owns it"
)

Statement = tuple[str, origin.RawStack]


class _Constraint(NamedTuple):
    """An index or a constraint of a table."""

    name: str  # as the database names it; SQLite's unnamed constraints are named by their text
    kind: str  # "index" or "constraint"
    text: str  # INDEX "shop_product_barcode_d5b8e4af" ON "shop_product" ("barcode"), UNIQUE (sku), ...
    columns: frozenset[str]


class _Table(NamedTuple):
    columns: dict[str, str]  # name -> "varchar(32) NOT NULL"
    constraints: dict[str, _Constraint]  # by name


class _Schema(NamedTuple):
    migrations: frozenset[tuple[str, str]]
    tables: dict[str, _Table]


class _Difference(NamedTuple):
    """One item of a database that is not as at the baseline."""

    kind: str  # table, column, index, constraint, migration
    change: str  # missing, extra, changed, applied, unapplied
    subject: str  # shop_coupon, shop_product.sku, shop.0002_product_barcode
    table: str | None
    before: str | None
    after: str | None
    named_by: tuple[tuple[str, ...], ...]  # a statement that made it names all of one of these
    near: str | None = None  # else the latest statement naming this (its table) is the likeliest


@dataclass(eq=False, repr=False)
class _Database:
    """A watched test database: its baseline and how it differs from it at the last look."""

    alias: str
    name: str
    baseline: _Schema
    catalog: Hashable  # at the last detailed look
    differences: dict[str, _Difference] = field(default_factory=dict)
    frames: dict[str, tuple[origin.Frame, ...]] = field(default_factory=dict)
    gone: bool = False  # destroyed: its differences stay as they were last seen


@register
class DbSchemaCheck(DatabaseCheck):
    """Applied migrations, tables, columns, indexes and constraints of every test database."""

    name = "db_schema"
    heads = _SCHEMA_HEADS | _WRITE_HEADS

    def __init__(self) -> None:
        super().__init__()
        self._databases: dict[str, _Database] = {}
        self._statements: dict[str, deque[Statement]] = {}  # alias -> schema statements since the last check point
        self._names: tuple[Any, ...] = ()
        self._version = 0

    def fingerprint(self, sweep: bool) -> Hashable:
        names = database_names()
        if names != self._names:  # a test database was set up or destroyed
            self._names = names
            self._mark_gone_databases()
            self._watch_new_databases()
        for database in self._databases.values():
            # Live differences are looked at again each time: a class's rollback undoes DDL without a statement.
            if not database.gone and (sweep or database.alias in self._statements or database.differences):
                self._look(database)
        self._statements.clear()
        self._reader.schema_changed.clear()
        return self._version

    def capture(self) -> dict[str, Change]:
        return {
            key: self._change(database, key, difference)
            for database in self._databases.values()
            for key, difference in database.differences.items()
        }

    def diff(self, baseline: dict[str, Change], current: dict[str, Change]) -> list[Change]:
        # Each database's baseline is taken when it appears (under pytest-django, after the session
        # started) and kept by the check: a capture holds only differences from it.
        return list(current.values())

    def _statement(self, head: str, sql: str, params: Any, many: bool, context: dict[str, Any]) -> None:
        if head in _SCHEMA_HEADS:
            self._record(context["connection"].alias, sql)
        elif head in _WRITE_HEADS and MIGRATIONS_TABLE in sql[:64]:
            self._record(context["connection"].alias, f"{sql} {params!r}")

    def _record(self, alias: str, text: str) -> None:
        database = self._databases.get(alias)
        if database is None or database.gone:
            return  # a database being created, or not a watched test database
        statements = self._statements.get(alias)
        if statements is None:
            statements = self._statements[alias] = deque(maxlen=MAX_STATEMENTS)
        statements.append((text, origin.raw_stack(sys._getframe(2), depth=STACK_DEPTH)))
        self._reader.schema_changed.add(alias)  # reads in an open transaction go in a savepoint from now on

    def _look(self, database: _Database) -> None:
        """Read the catalog fingerprint, and the schema in detail when it moved."""
        connection = connections[database.alias]
        catalog = self._reader.read(connection, _catalog, connection)
        if catalog is None or catalog == database.catalog:
            return
        schema = self._reader.read(connection, _schema, connection)
        if schema is None:
            return
        database.catalog = catalog
        differences = _differences(database.alias, database.baseline, schema)
        if differences == database.differences:
            return
        statements = self._statements.get(database.alias, ())
        database.frames = {  # a difference that was already there keeps the frames of the statement that made it
            key: database.frames[key] if database.differences.get(key) == same else _origin(statements, same)
            for key, same in differences.items()
        }
        database.differences = differences
        self._version += 1

    def _mark_gone_databases(self) -> None:
        for database in self._databases.values():
            connection = connections[database.alias]
            if connection.settings_dict.get("NAME") != database.name or not is_test_database(connection):
                database.gone = True
                self._reader.close(database.alias)

    def _watch_new_databases(self) -> None:
        for connection in connections.all():
            watched = self._databases.get(connection.alias)
            if (watched is not None and not watched.gone) or not is_test_database(connection):
                continue
            if connection.settings_dict.get("TEST", {}).get("MIRROR") or connection.vendor not in _READERS:
                continue
            name = str(connection.settings_dict.get("NAME"))
            catalog = self._reader.read(connection, _catalog, connection)
            schema = self._reader.read(connection, _schema, connection)
            if catalog is None or schema is None:  # said, rather than watching nothing in silence
                raise RuntimeError(f"cannot read the schema of test database {name!r} (alias {connection.alias!r})")
            self._databases[connection.alias] = _Database(connection.alias, name, schema, catalog)
            self._version += 1

    def _change(self, database: _Database, key: str, difference: _Difference) -> Change:
        migrated = any(d.kind == "migration" for d in database.differences.values())
        details: dict[str, Any] = {
            "database": database.alias,
            "kind": difference.kind,
            "change": difference.change,
            difference.kind: difference.subject,
        }
        if difference.table is not None:
            details["table"] = difference.table
        return Change(
            key=key,
            token=difference.after,
            summary=_summary(database.alias, difference),
            before=difference.before,
            after=difference.after,
            advice=ADVICE_MIGRATED if migrated else ADVICE_DDL,
            details=details,
            origin=database.frames.get(key, ()),
            subjects=tuple(str(name) for name in (difference.table, difference.subject) if name),
        )


def _summary(alias: str, difference: _Difference) -> str:
    where = f"(database {alias!r})"
    if difference.kind == "migration":
        return f"migration {difference.subject} {difference.change} {where}"
    text = f"{difference.change} {difference.kind} {difference.subject} {where}"
    if difference.change == "changed":
        text += f": {difference.before} -> {difference.after}"
    return text


def _origin(statements: Iterable[Statement], difference: _Difference) -> tuple[origin.Frame, ...]:
    """The user frames of the latest statement that made `difference`, or else of the likeliest one."""
    latest = list(statements)[::-1]
    for alternatives in (difference.named_by, ((difference.near,),) if difference.near else ()):
        for text, stack in latest:
            if any(all(needle in text for needle in needles) for needles in alternatives):
                return origin.user_frames_of(stack)
    return origin.user_frames_of(latest[0][1]) if latest else ()


def _differences(alias: str, baseline: _Schema, current: _Schema) -> dict[str, _Difference]:
    """Every item of `current` that is not as in `baseline`, by a stable key."""
    found: dict[str, _Difference] = {}
    for app, name in sorted(baseline.migrations ^ current.migrations):
        label = f"{app}.{name}"
        change = "applied" if (app, name) in current.migrations else "unapplied"
        before, after = ("unapplied", "applied") if change == "applied" else ("applied", "unapplied")
        found[f"{alias}:migration:{label}"] = _Difference(
            "migration", change, label, None, before, after, ((MIGRATIONS_TABLE, app, name),), MIGRATIONS_TABLE
        )
    for table in sorted(baseline.tables.keys() | current.tables.keys()):
        old, new = baseline.tables.get(table), current.tables.get(table)
        if old is not None and new is not None:
            found.update(_table_differences(alias, table, old, new))
        else:
            change = "missing" if new is None else "extra"
            text_before, text_after = (_text(old), None) if new is None else (None, _text(new))
            found[f"{alias}:table:{table}"] = _Difference(
                "table", change, table, table, text_before, text_after, ((table,),)
            )
    return found


def _table_differences(alias: str, table: str, before: _Table, after: _Table) -> dict[str, _Difference]:
    found: dict[str, _Difference] = {}
    moved: set[str] = set()  # columns missing or extra: their indexes and constraints go with them
    for column, change, old, new in _compare(before.columns, after.columns):
        if change != "changed":
            moved.add(column)
        # SQLite rebuilds a table to drop (or change) a column: the new__ table's CREATE made it so.
        named_by = ((table, column), (f"new__{table}",))
        found[f"{alias}:column:{table}.{column}"] = _Difference(
            "column", change, f"{table}.{column}", table, old, new, named_by, table
        )
    old_constraints = {name: c.text for name, c in before.constraints.items()}
    new_constraints = {name: c.text for name, c in after.constraints.items()}
    for name, change, old, new in _compare(old_constraints, new_constraints):
        constraint = after.constraints.get(name) or before.constraints[name]
        if change != "changed" and constraint.columns and constraint.columns <= moved:
            continue
        subject = f"{name} on {table}"
        found[f"{alias}:{constraint.kind}:{table}.{name}"] = _Difference(
            constraint.kind, change, subject, table, old, new, ((name,),), table
        )
    return found


def _compare(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str | None, str | None]]:
    """(name, missing|extra|changed, before, after) for each name whose value differs."""
    rows = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old != new:
            change = "missing" if new is None else "extra" if old is None else "changed"
            rows.append((name, change, old, new))
    return rows


def _text(table: _Table | None) -> str:
    return "table (" + ", ".join(table.columns if table else ()) + ")"


_PG_VISIBLE: Final = "(SELECT oid FROM pg_namespace WHERE nspname = ANY(current_schemas(false)))"
_PG_CATALOG: Final = f"""
    SELECT COUNT(*), SUM(hashtext(part)::bigint), to_regclass('django_migrations') IS NOT NULL FROM (
        SELECT concat_ws(' ', c.relname, c.relkind, a.attname, a.atttypid, a.atttypmod, a.attnotnull, i.indisunique)
            AS part
        FROM pg_class c
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_index i ON i.indexrelid = c.oid
        WHERE c.relnamespace IN {_PG_VISIBLE} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'i', 'I')
        UNION ALL
        SELECT concat_ws(' ', co.conname, co.contype, co.conrelid::regclass)
        FROM pg_constraint co
        WHERE co.connamespace IN {_PG_VISIBLE}
    ) parts
"""
# SQLite moves schema_version on every schema change (rolled back with its transaction).
_SQLITE_CATALOG: Final = (
    "SELECT (SELECT schema_version FROM pragma_schema_version), "
    f"EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{MIGRATIONS_TABLE}')"
)


def _catalog(cursor: Any, connection: BaseDatabaseWrapper) -> Hashable:
    """A cheap value that moves whenever the schema, or the applied migrations, may have changed."""
    if connection.vendor == "sqlite":
        cursor.execute(_SQLITE_CATALOG)
    else:
        cursor.execute(_PG_CATALOG)
    *aggregate, has_migrations = cursor.fetchone()
    schema = tuple(aggregate)
    if not has_migrations:
        return schema, None
    # Records are inserted with ever larger ids (until a flush resets the sequence: then the count moves).
    cursor.execute(f"SELECT COUNT(*), MAX(id), SUM(id) FROM {connection.ops.quote_name(MIGRATIONS_TABLE)}")
    return schema, tuple(cursor.fetchone())


def _schema(cursor: Any, connection: BaseDatabaseWrapper) -> _Schema:
    """Every table and view with its columns, indexes and constraints, and the applied migrations."""
    columns, constraints = _READERS[connection.vendor](cursor)
    tables: dict[str, _Table] = {}
    for table, column, kind, not_null in columns:
        entry = tables.setdefault(table, _Table({}, {}))
        if column is not None:  # a PostgreSQL table can have no column
            entry.columns[column] = f"{kind} {'NOT NULL' if not_null else 'NULL'}"
    for constraint in constraints:
        table, name, kind, text, names = constraint
        if table in tables:
            tables[table].constraints[name] = _Constraint(name, kind, text, frozenset(names))
    migrations: frozenset[tuple[str, str]] = frozenset()
    if MIGRATIONS_TABLE in tables:
        cursor.execute(f"SELECT app, name FROM {connection.ops.quote_name(MIGRATIONS_TABLE)}")
        migrations = frozenset((str(app), str(name)) for app, name in cursor.fetchall())
    return _Schema(migrations, tables)


ColumnRow = tuple[str, str | None, str, bool]  # table, column, type, NOT NULL
ConstraintRow = tuple[str, str, str, str, Iterable[str]]  # table, name, index|constraint, text, columns

_PG_COLUMNS: Final = f"""
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
    FROM pg_class c
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace IN {_PG_VISIBLE} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""
# Indexes that back a primary key, unique or exclusion constraint are that constraint.
_PG_CONSTRAINTS: Final = f"""
    SELECT t.relname, co.conname, 'constraint', pg_get_constraintdef(co.oid),
        ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = co.conrelid AND attnum = ANY(co.conkey))
    FROM pg_constraint co
    JOIN pg_class t ON t.oid = co.conrelid
    WHERE t.relnamespace IN {_PG_VISIBLE}
    UNION ALL
    SELECT t.relname, c.relname, 'index', pg_get_indexdef(c.oid),
        ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = ANY(i.indkey::int2[]))
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relnamespace IN {_PG_VISIBLE} AND NOT EXISTS (
        SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.contype IN ('p', 'u', 'x')
    )
"""


def _postgresql(cursor: Any) -> tuple[list[ColumnRow], list[ConstraintRow]]:
    cursor.execute(_PG_COLUMNS)
    columns = cursor.fetchall()
    cursor.execute(_PG_CONSTRAINTS)
    constraints = [(table, name, kind, text.removeprefix("CREATE "), cols) for table, name, kind, text, cols in cursor]
    return columns, constraints


_SQLITE_TABLES: Final = "m.type = 'table' AND m.name NOT LIKE 'sqlite^_%' ESCAPE '^'"
_SQLITE_COLUMNS: Final = f"""
    SELECT m.name, p.name, p.type, p."notnull", p.pk
    FROM sqlite_master m JOIN pragma_table_info(m.name) p
    WHERE ({_SQLITE_TABLES}) OR m.type = 'view'
    ORDER BY m.name, p.cid
"""
# Indexes with their columns; "u" and "pk" indexes are SQLite's own for UNIQUE and PRIMARY KEY constraints.
_SQLITE_INDEXES: Final = f"""
    SELECT m.name, l.name, l."unique", l.origin, x.sql,
        (SELECT group_concat(name, ', ') FROM pragma_index_info(l.name))
    FROM sqlite_master m
    JOIN pragma_index_list(m.name) l
    LEFT JOIN sqlite_master x ON x.type = 'index' AND x.name = l.name
    WHERE {_SQLITE_TABLES}
"""
_SQLITE_FOREIGN_KEYS: Final = f"""
    SELECT m.name, f."table", group_concat(f."from", ', '), group_concat(f."to", ', ')
    FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
    WHERE {_SQLITE_TABLES}
    GROUP BY m.name, f.id
"""


def _sqlite(cursor: Any) -> tuple[list[ColumnRow], list[ConstraintRow]]:
    """Columns from pragmas; constraints named by their text, as SQLite keeps no names for them."""
    cursor.execute(_SQLITE_COLUMNS)
    rows = cursor.fetchall()
    columns: list[ColumnRow] = [(table, column, kind, bool(not_null)) for table, column, kind, not_null, _ in rows]
    keys: dict[str, list[tuple[int, str]]] = {}
    for table, column, _, _, position in rows:
        if position:  # its place in the primary key
            keys.setdefault(table, []).append((position, column))
    constraints = [_named(t, "PRIMARY KEY", [c for _, c in sorted(k)]) for t, k in keys.items()]
    cursor.execute(_SQLITE_INDEXES)
    for table, name, unique, made_by, sql, listed in cursor.fetchall():
        names = (listed or "").split(", ")
        if made_by == "c":
            constraints.append((table, name, "index", (sql or name).removeprefix("CREATE "), names))
        elif made_by == "u" and unique:
            constraints.append(_named(table, "UNIQUE", names))
    cursor.execute(_SQLITE_FOREIGN_KEYS)
    for table, target, sources, targets in cursor.fetchall():
        constraints.append(_named(table, "FOREIGN KEY", sources.split(", "), f" REFERENCES {target} ({targets})"))
    return columns, constraints


def _named(table: str, kind: str, names: list[str], tail: str = "") -> ConstraintRow:
    """An unnamed SQLite constraint, named by its text: ``UNIQUE (sku)``."""
    text = f"{kind} ({', '.join(names)}){tail}"
    return table, text, "constraint", text, names


_READERS: Final[dict[str, Callable[[Any], tuple[list[ColumnRow], list[ConstraintRow]]]]] = {
    "postgresql": _postgresql,
    "sqlite": _sqlite,
}
