"""``time_freezing``: freezegun or time-machine left active by a test.

``freeze_time("2020-01-01").start()`` (or ``time_machine.travel(...).start()``)
without ``stop()`` keeps the clock frozen (or travelled) for every later
test: ``timezone.now()`` returns the same instant, session expiry and token
lifetimes misbehave. The libraries keep their active freezes in module-level
stacks (``freezegun.api.freeze_factories``, ``time_machine.traveller_stack``,
``coordinates_stack`` in old time-machine releases); the fingerprint is the
identities in them, read only when the library is in ``sys.modules``: the
check never imports either. Where ``start()`` was called is recorded by
wrapping ``freezegun.api._freeze_time.start`` and ``time_machine.travel.start``
at class level once the library has been imported (a freeze started by the
very test that first imports the library has no origin).
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any, Final

from django_isolation import origin
from django_isolation.checks import Change, register

# (library, module that holds the stack, its stack attributes, module and class whose start() is wrapped)
CLOCK_READERS: Final = ("now", "today", "utcnow", "time", "monotonic", "perf_counter", "sleep", "localtime")
"""Names in a failing test's code that read the clock (the subjects of a freeze left running)."""
LIBRARIES: Final = (
    ("freezegun", "freezegun.api", ("freeze_factories",), "_freeze_time"),
    ("time-machine", "time_machine", ("traveller_stack", "coordinates_stack"), "travel"),
)
ADVICE: Final = {
    "freezegun": (
        "use freeze_time as a decorator or context manager, or call stop() in tearDown / "
        "self.addCleanup(freezer.stop); pytest-freezer's `freezer` fixture stops on its own"
    ),
    "time-machine": (
        "use time_machine.travel as a decorator or context manager, or call stop() in tearDown / "
        "self.addCleanup(traveller.stop); time-machine's `time_machine` pytest fixture stops on its own"
    ),
}
_MODULE_NAMES: Final = tuple(module for _, module, _, _ in LIBRARIES)
_NONE_IMPORTED: Final = (None,) * len(LIBRARIES)
_Start = Callable[[Any], Any]
Active = tuple[tuple[str, int, Any], ...]  # (library, position in its stack, the freeze object)


@register
class TimeFreezingCheck:
    """freezegun / time-machine freezes started and never stopped."""

    name = "time_freezing"

    def __init__(self) -> None:
        self._starts: dict[int, origin.RawStack] = {}
        self._hooked: list[tuple[type, _Start, _Start]] = []
        self._modules: tuple[Any, ...] = _NONE_IMPORTED
        # The imported libraries' stack slots: library, the namespace of its stack module, the attribute.
        self._slots: list[tuple[str, dict[str, Any], str]] = []

    def start(self) -> None:
        self._imported(tuple(map(sys.modules.get, _MODULE_NAMES)))

    def stop(self) -> None:
        # Put the libraries' methods back only if nobody wrapped ours in the meantime.
        for cls, original, hook in self._hooked:
            if cls.__dict__.get("start") is hook:
                cls.start = original  # type: ignore[attr-defined]
        self._hooked = []

    def fingerprint(self, sweep: bool) -> Hashable:
        modules = tuple(map(sys.modules.get, _MODULE_NAMES))
        if modules == _NONE_IMPORTED:
            return ()  # neither library imported: the usual case
        if modules != self._modules:  # one was imported (or reloaded) since: wrap its start()
            self._imported(modules)
        stacks = [stack for _, stack in self._stacks()]
        return tuple(map(id, chain.from_iterable(stacks)))

    def _stacks(self) -> list[tuple[str, list[Any]]]:
        """(library, stack) of each slot holding a list; read from the namespace, not by getattr (a missing name
        raises inside it, and this runs at every point)."""
        return [
            (library, stack)
            for library, namespace, name in self._slots
            if isinstance(stack := namespace.get(name), list)
        ]

    def _imported(self, modules: tuple[Any, ...]) -> None:
        """`modules` (one per library, None where not imported) are the libraries' modules now."""
        self._modules = modules
        self._slots = [
            (library, vars(module), name)
            for module, (library, _, names, _) in zip(modules, LIBRARIES)
            if module is not None
            for name in names
        ]
        self._hook_imported()

    def capture(self) -> Active:
        active = tuple((library, index, item) for library, stack in self._stacks() for index, item in enumerate(stack))
        live = {id(item) for _, _, item in active}
        for key in [key for key in self._starts if key not in live]:
            del self._starts[key]  # stopped freezes: keep the ledger small
        return active

    def diff(self, baseline: Active, current: Active) -> list[Change]:
        before = {id(item) for _, _, item in baseline}
        return [self._change(library, index, item) for library, index, item in current if id(item) not in before]

    def _hook_imported(self) -> None:
        hooked = {cls for cls, _, _ in self._hooked}
        for _, module_name, _, class_name in LIBRARIES:
            cls = getattr(sys.modules.get(module_name), class_name, None)
            if isinstance(cls, type) and cls not in hooked and "start" in cls.__dict__:
                original = cls.__dict__["start"]
                hook = self._hook(original)
                cls.start = hook  # type: ignore[attr-defined]
                self._hooked.append((cls, original, hook))

    def _hook(self, original: _Start) -> _Start:
        def start(freezer: Any) -> Any:
            frozen = original(freezer)
            # Only the stack is taken here; lines are looked up if the freeze is reported.
            self._starts[id(frozen)] = origin.raw_stack(sys._getframe(1), depth=32)
            return frozen

        return start

    def _change(self, library: str, index: int, item: Any) -> Change:
        when = _instant(item)
        stack = self._starts.get(id(item))
        return Change(
            key=f"{library}#{index}",
            token=id(item),
            summary=f"{library}: time frozen at {when} started and never stopped",
            before=None,
            after=when,
            advice=ADVICE[library],
            details={"change": "started", "library": library, "frozen_at": when, "depth": index + 1},
            subjects=CLOCK_READERS,
            origin=origin.user_frames_of(stack) if stack else (),
        )


def _instant(item: Any) -> str:
    """The instant a freeze stands at, without advancing a ticking clock."""
    frozen = getattr(item, "time_to_freeze", None)  # freezegun's factories
    if isinstance(frozen, datetime.datetime):
        return frozen.isoformat()
    nanoseconds = getattr(item, "_destination_timestamp_ns", None)  # time-machine's Traveller
    if isinstance(nanoseconds, int):
        return datetime.datetime.fromtimestamp(nanoseconds / 1e9, datetime.timezone.utc).isoformat()
    destination = getattr(item, "destination_timestamp", None)  # time-machine's old Coordinates
    if isinstance(destination, (int, float)):
        return datetime.datetime.fromtimestamp(destination, datetime.timezone.utc).isoformat()
    return type(item).__name__
