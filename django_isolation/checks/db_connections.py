"""``db_connections``: database connections left inside an atomic block, marked for rollback, or out of autocommit.

``transaction.atomic().__enter__()`` without ``__exit__``, ``set_autocommit(False)``
without setting it back, or an error swallowed inside an atomic block
(``needs_rollback``) leave the thread's connection in a state every later test
inherits: their writes are rolled back with the leaked transaction, or fail
with ``TransactionManagementError``.

Django's ``TestCase`` keeps atomic blocks open on purpose (one per class,
one per test), so the depth is judged by check point positions, not against
zero: every level above the run's starting depth is a *marker* owned by the
scope whose check point first saw it (a class that opened its atomic in
``setUpClass`` owns that level until its end). When the depth drops, the
oldest marker goes: Django's ``TestCase`` teardown pops the savepoint on top,
so after a test leaked a level, the level left open when the class ends is
still counted as the test's, and the class's own level as closed. The
fingerprint reads four attributes of each initialized connection (found in
the thread's storage of ``connections`` directly: going through its
``asgiref`` ``Local`` costs microseconds): no hook, no query.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from django.db import connections

from django_isolation.checks import Change, register
from django_isolation.checks._thread_locals import thread_local

TRANSACTION_READERS: Final = (
    "atomic",
    "get_autocommit",
    "set_autocommit",
    "commit",
    "rollback",
    "on_commit",
    "in_atomic_block",
    "needs_rollback",
)
"""Names in a failing test's code that depend on the connection's transaction state."""
ADVICE_ATOMIC: Final = (
    "use `with transaction.atomic():` (or @transaction.atomic) so the block always exits; a test that calls "
    "atomic().__enter__() must call __exit__(None, None, None) in tearDown / self.addCleanup"
)
ADVICE_ROLLBACK: Final = (
    "wrap the statement expected to fail in its own `with transaction.atomic():` (a savepoint), e.g. "
    "`with self.assertRaises(IntegrityError), transaction.atomic(): ...`"
)
ADVICE_AUTOCOMMIT: Final = (
    "restore autocommit: `self.addCleanup(transaction.set_autocommit, True)` right after "
    "set_autocommit(False), or use transaction.atomic() instead"
)
Flags = tuple[int, bool, "bool | None"]  # atomic depth, needs_rollback, autocommit (None: not connected)


@dataclass(eq=False, repr=False)
class _Alias:
    start: Flags
    markers: list[int] = field(default_factory=list)


class _State(NamedTuple):
    flags: dict[str, Flags]
    markers: dict[str, tuple[int, ...]]


@register
class DbConnectionsCheck:
    """Connections left in an atomic block, marked for rollback, or with autocommit changed."""

    name = "db_connections"

    def __init__(self) -> None:
        self._aliases: dict[str, _Alias] = {}
        self._numbers = 0
        self._threads = thread_local(connections._connections)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        # What _flags() reads, read inline: this runs at every check point.
        opened = connections.all(initialized_only=True) if self._threads is None else self._threads.__dict__.values()
        return tuple(
            [
                (c.alias, c.in_atomic_block, len(c.savepoint_ids), c.needs_rollback, c.connection is None, c.autocommit)
                for c in opened
            ]
        )

    def capture(self) -> _State:
        flags = {connection.alias: _flags(connection) for connection in _initialized(self._threads)}
        for alias, current in flags.items():
            # A connection first used after the run started is judged against a fresh connection's state.
            fresh = (0, False, bool(connections[alias].settings_dict.get("AUTOCOMMIT", True)))
            self._track(self._aliases.setdefault(alias, _Alias(fresh)), current[0])
        markers = {alias: tuple(state.markers) for alias, state in self._aliases.items()}
        return _State(flags, markers)

    def diff(self, baseline: _State, current: _State) -> list[Change]:
        changes = []
        for alias, (depth, needs_rollback, autocommit) in current.flags.items():
            start = self._aliases[alias].start
            for level, number in enumerate(current.markers.get(alias, ()), start=start[0] + 1):
                changes.append(_atomic(alias, number, level))
            # Inside a leaked block the flag is one more symptom of that leak (a connection closed in it sets it).
            if needs_rollback and not start[1] and not current.markers.get(alias):
                changes.append(_needs_rollback(alias, depth))
            if depth == start[0] and autocommit is not None and autocommit != start[2]:
                changes.append(_autocommit(alias, autocommit))
        return changes

    def _track(self, state: _Alias, depth: int) -> None:
        """One marker per level above the starting depth: new levels get new markers, closed levels lose one."""
        # The oldest marker goes first: a class's level outlives the levels its tests leak inside it.
        del state.markers[: max(0, len(state.markers) - max(0, depth - state.start[0]))]
        while len(state.markers) < depth - state.start[0]:
            self._numbers += 1
            state.markers.append(self._numbers)


def _initialized(threads: threading.local | None) -> list[Any]:
    """The thread's connections that exist, as ``connections.all(initialized_only=True)``, without its cost."""
    # ConnectionHandler's Local is thread-critical: `threads` is its threading.local, whose __dict__ holds them.
    if threads is None:
        return list(connections.all(initialized_only=True))
    opened = threads.__dict__
    return [opened[alias] for alias in connections.settings if alias in opened]


def _flags(connection: Any) -> Flags:
    depth = len(connection.savepoint_ids) + 1 if connection.in_atomic_block else 0
    # A wrapper that never connected (or was closed) says autocommit=False until it connects again.
    autocommit = None if connection.connection is None else bool(connection.autocommit)
    return depth, bool(connection.needs_rollback), autocommit


def _atomic(alias: str, number: int, level: int) -> Change:
    return Change(
        key=f"{alias}.atomic#{number}",
        token=number,
        summary=f"connection {alias!r} left inside an atomic block (transaction depth {level})",
        before=None,
        after=f"depth {level}",
        advice=ADVICE_ATOMIC,
        details={"change": "atomic_left_open", "alias": alias, "depth": level},
        subjects=TRANSACTION_READERS,
    )


def _needs_rollback(alias: str, depth: int) -> Change:
    return Change(
        key=f"{alias}.needs_rollback",
        token=depth,
        summary=f"connection {alias!r} left marked for rollback (needs_rollback) after a database error",
        before="False",
        after="True",
        advice=ADVICE_ROLLBACK,
        details={"change": "needs_rollback", "alias": alias, "depth": depth},
        subjects=TRANSACTION_READERS,
    )


def _autocommit(alias: str, autocommit: bool) -> Change:
    return Change(
        key=f"{alias}.autocommit",
        token=autocommit,
        summary=f"connection {alias!r} left with autocommit {'on' if autocommit else 'off'} outside any atomic block",
        before=str(not autocommit),
        after=str(autocommit),
        advice=ADVICE_AUTOCOMMIT,
        details={"change": "autocommit", "alias": alias, "autocommit": autocommit},
        subjects=TRANSACTION_READERS,
    )
