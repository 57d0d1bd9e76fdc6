"""``module_identity``: ``sys.modules`` entries replaced or removed, and packages out of step with them.

A test (or fixture) that deletes ``sys.modules["pkg.sub"]`` and imports it again
gets a second module object; restoring ``sys.modules`` but not the ``pkg.sub``
attribute leaves ``from pkg import sub`` and ``from pkg.sub import f`` on
different objects, and a later ``monkeypatch.setattr(sub, ...)`` patches the one
the code under test no longer uses (djust #1741). Re-imports are seen by a
finder at the front of ``sys.meta_path`` that only counts and records the
stack of imports of names already imported once; it never finds anything
itself. First imports are normal and never reported.

Module objects are named by a serial per name (``#1`` the first object seen
under the name, ``#2`` the next), not by their address, which the process
reuses. Entries removed together from one top-level package (a
``del sys.modules[...]`` loop) are one finding listing them. Namespaces are
read with ``vars()``: a package's ``__getattr__`` never runs.
"""

from __future__ import annotations

import importlib
import os
import sys
import weakref
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from itertools import islice
from types import FrameType, FunctionType, ModuleType
from typing import Any, Final, NamedTuple

from django.db.models.base import ModelBase

from django_isolation import origin
from django_isolation.checks import Change, register

MAX_NAMES_SHOWN: Final = 10
_IMPORT_MACHINERY: Final = ("<frozen importlib", os.path.dirname(importlib.__file__ or ""))
ADVICE_REPLACED: Final = (
    "a test that re-imports a module must restore sys.modules and the parent package attribute together, "
    "e.g. with monkeypatch.setitem(sys.modules, name, module) and monkeypatch.setattr(package, child, module), "
    "or mock.patch.dict(sys.modules) as a context manager; do not importlib.import_module() a module that "
    "others already hold"
)
ADVICE_RELOADED: Final = (
    "do not importlib.reload() a module in a test: objects and imports made before the reload keep the old "
    "classes and functions (isinstance() and patches stop matching), and its models are registered again; "
    "patch what the test needs with monkeypatch or mock.patch, or override the setting the module reads"
)
ADVICE_REMOVED: Final = (
    "put the entry back (monkeypatch.delitem(sys.modules, name) undoes itself; so does mock.patch.dict(sys.modules))"
)
ADVICE_DESYNC: Final = (
    "the package attribute and sys.modules name different module objects: restore both after a re-import "
    "(monkeypatch.setattr(package, child, original) next to monkeypatch.setitem(sys.modules, name, original))"
)


class Modules(NamedTuple):
    """A capture: every ``sys.modules`` entry and the submodules whose package attribute is another module."""

    entries: dict[str, object]
    desynced: dict[str, tuple[object, object]]  # name -> (sys.modules entry, package attribute)


class _ReimportSpy:
    """A meta path finder that finds nothing: it counts imports, and keeps the stack of those of names imported before."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.reimports = 0
        self.first_imports = 0  # of names not imported before: a removal next to one keeps sys.modules' size
        self.stacks: dict[str, origin.RawStack] = {}
        self.times: dict[str, int] = {}  # name -> how often the project's code imported it again (reload)

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> None:
        # Called only for names missing from sys.modules: first imports, failed imports, re-imports, reload().
        if name in self.known:  # not added to it here: a failed import may repeat in a loop, it is no re-import
            self.reimports += 1
            self.stacks[name] = origin.raw_stack(sys._getframe(1))
            # Still in sys.modules: importlib.reload(), by the project (not Django's MigrationLoader).
            if name in sys.modules and _called_from_user_code(sys._getframe(1)):
                self.times[name] = self.times.get(name, 0) + 1
        else:
            self.first_imports += 1

    def invalidate_caches(self) -> None:
        return None


@register
class ModuleIdentityCheck:
    """``sys.modules`` entries replaced or removed, and package attributes that no longer match them."""

    name = "module_identity"

    def __init__(self) -> None:
        self._spy = _ReimportSpy()
        self._reference: dict[str, object] = {}  # the first object seen under each name
        self._sweeps = 0
        self._serials: weakref.WeakKeyDictionary[ModuleType, int] = weakref.WeakKeyDictionary()
        self._objects_seen: dict[str, int] = {}
        self._slots: tuple[list[dict[str, Any]], list[str]] = ([], [])  # (package namespace, child) of each submodule
        self._attributes: list[Any] = []  # each package attribute that names a submodule, at the last capture
        self._capture: Modules | None = None  # the last capture: sys.modules then, the desynced submodules
        self._grown_from: Modules | None = None  # the capture before it, when it only added entries to that one
        self._diffed: tuple[Modules, list[Change], dict[str, int]] | None = None  # capture, its changes, reloads

    def start(self) -> None:
        self._spy.known.update(sys.modules)
        sys.meta_path.insert(0, self._spy)

    def stop(self) -> None:
        if self._spy in sys.meta_path:
            sys.meta_path.remove(self._spy)

    def fingerprint(self, sweep: bool) -> Hashable:
        if sweep and self._moved_since_capture():
            self._sweeps += 1  # an entry or a package attribute swapped by plain assignment
        return self._spy.reimports, self._spy.first_imports, len(sys.modules), self._sweeps

    def _moved_since_capture(self) -> bool:
        """Whether an entry of ``sys.modules`` or a package's attribute for a submodule is another object now
        (two comparisons that run in C, values by identity first)."""
        last = self._capture
        try:
            return last is None or sys.modules != last.entries or self._package_attributes_moved()
        except Exception:  # noqa: BLE001 - an entry or attribute whose __eq__ raises was put in place
            return True

    def _package_attributes_moved(self) -> bool:
        """Whether a package's attribute for one of its submodules is another object than at the last capture."""
        return list(map(dict.get, *self._slots)) != self._attributes

    def capture(self) -> Modules:
        entries: dict[str, object] = dict(sys.modules)
        last = self._capture
        added = None if last is None else self._first_imports_only(entries, last)
        if last is None or added is None:
            self._spy.known.update(entries)
            for name, module in entries.items():
                self._reference.setdefault(name, module)
            self._slots = _package_slots(entries)
            self._attributes = list(map(dict.get, *self._slots))
            desynced = _desynced(entries)
        else:  # most captures follow first imports (len(sys.modules) moved): only the new entries are read
            self._spy.known.update(added)
            self._reference.update(added)
            namespaces, children = _package_slots(added, entries)
            self._slots[0].extend(namespaces)
            self._slots[1].extend(children)
            self._attributes.extend(map(dict.get, namespaces, children))
            desynced = {**last.desynced, **_desynced(added, entries)}
        self._grown_from = None if added is None else last
        self._capture = Modules(entries, desynced)
        return self._capture

    def _first_imports_only(self, entries: dict[str, object], last: Modules) -> dict[str, object] | None:
        """The entries added since capture `last`, if that is all that changed (every earlier entry and package
        attribute the same object, no name back that was seen before); None: read everything."""
        try:
            if not last.entries.items() <= entries.items() or self._package_attributes_moved():
                return None
        except Exception:  # noqa: BLE001 - an entry or attribute whose __eq__ raises was put in place
            return None
        added = dict(islice(entries.items(), len(last.entries), None))  # in import order: a dict keeps it
        return added if self._reference.keys().isdisjoint(added) else None

    def diff(self, baseline: Modules, current: Modules) -> list[Change]:
        """What differs from the baseline; after first imports only, the last diff's changes (they add nothing a
        diff reports, unless a reload was counted or a new entry is out of step with its package)."""
        last = self._diffed
        if (
            last is not None
            and current is self._capture
            and last[0] is self._grown_from
            and last[2] == self._spy.times
            and current.desynced.keys() == last[0].desynced.keys()
        ):
            self._diffed = (current, last[1], last[2])
            return list(last[1])
        changes = self._changes(baseline, current)
        self._diffed = (current, changes, dict(self._spy.times))
        return list(changes)

    def _changes(self, baseline: Modules, current: Modules) -> list[Change]:
        changes: list[Change] = []
        removed: dict[str, list[str]] = defaultdict(list)
        for name, before in self._reference.items():
            after = current.entries.get(name)
            if after is None and name not in current.entries:
                removed[name.partition(".")[0]].append(name)
            elif after is not before:
                changes.append(self._replaced(name, before, after))
            elif name in self._spy.times:  # the same object, run again: importlib.reload()
                changes.append(self._reloaded(name, after))
        for package, names in removed.items():
            changes.append(self._removed(names[0]) if len(names) == 1 else self._removed_together(package, names))
        for name, (entry, attribute) in current.desynced.items():
            was = baseline.desynced.get(name)
            if was is None or was[0] is not entry or was[1] is not attribute:
                changes.append(self._desync(name, entry, attribute))
        return changes

    def _replaced(self, name: str, before: object, after: object) -> Change:
        return Change(
            key=f"sys.modules[{name!r}]",
            token=id(after),
            summary=f"sys.modules[{name!r}] replaced by another module object",
            before=self._describe(name, before),
            after=self._describe(name, after),
            advice=ADVICE_REPLACED,
            details={"change": "replaced", "module": name, "before_file": _file(before), "after_file": _file(after)},
            origin=self._imported_at(name),
            subjects=(name.rpartition(".")[2],),
        )

    def _reloaded(self, name: str, module: Any) -> Change:
        namespace = _namespace(module)
        defined = [value for value in list(namespace.values()) if _defined_in(value, name)]
        models = sum(1 for value in defined if issubclass(type(value), ModelBase))
        re_registered = f", {models} model(s) re-registered" if models else ""
        return Change(
            key=f"{name} (reloaded)",
            token=self._spy.times[name],
            summary=f"module {name} reloaded: {len(defined)} classes and functions replaced{re_registered}",
            before=self._describe(name, module),
            after=self._describe(name, module),
            advice=ADVICE_RELOADED,
            details={"change": "reloaded", "module": name, "replaced": len(defined), "models": models},
            origin=self._imported_at(name),
            subjects=(name.rpartition(".")[2],),
            cause=f"module_identity:reload:{name}",
        )

    def _removed(self, name: str) -> Change:
        before = self._reference[name]
        return Change(
            key=f"sys.modules[{name!r}]",
            token=None,
            summary=f"sys.modules[{name!r}] removed: the next import runs the module again",
            before=self._describe(name, before),
            after=None,
            advice=ADVICE_REMOVED,
            details={"change": "removed", "module": name, "before_file": _file(before)},
            subjects=(name.rpartition(".")[2],),
        )

    def _removed_together(self, package: str, names: list[str]) -> Change:
        shown = ", ".join(names[:MAX_NAMES_SHOWN]) + (
            f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else ""
        )
        return Change(
            key=f"sys.modules[{package!r}...] removed",
            token=tuple(names),
            summary=f"{len(names)} modules of {package} removed from sys.modules: {shown}",
            before=", ".join(names),
            after=None,
            advice=ADVICE_REMOVED,
            details={"change": "removed", "module": package, "modules": names},
            subjects=tuple(dict.fromkeys(name.rpartition(".")[2] for name in names)),
        )

    def _desync(self, name: str, entry: object, attribute: object) -> Change:
        package, _, child = name.rpartition(".")
        return Change(
            key=f"{name} (package attribute)",
            token=(id(entry), id(attribute)),
            summary=f"{package}.{child} and sys.modules[{name!r}] are different module objects",
            before=f"sys.modules[{name!r}]: {self._describe(name, entry)}",
            after=f"{package}.{child}: {self._describe(name, attribute)}",
            advice=ADVICE_DESYNC,
            subjects=(child,),
            details={
                "change": "desynced",
                "module": name,
                "sys_modules_entry": self._describe(name, entry),
                "package_attribute": self._describe(name, attribute),
                "imported_at": [str(frame) for frame in self._imported_at(name)],
            },
            origin=self._imported_at(name),
        )

    def _imported_at(self, name: str) -> tuple[origin.Frame, ...]:
        """Where `name` was last imported through the import system after the run started (the re-import)."""
        stack = self._spy.stacks.get(name)
        return origin.user_frames_of(stack) if stack else ()

    def _describe(self, name: str, module: Any) -> str:
        """``module #2 from path``: the how-many-th object seen under `name` (addresses are reused)."""
        where = _file(module)
        suffix = f" from {where}" if where else ""
        if not issubclass(type(module), ModuleType):
            return f"{type(module).__name__}{suffix}"
        serial = 1 if module is self._reference.get(name) else self._serials.get(module)
        if serial is None:
            serial = self._serials[module] = self._objects_seen[name] = self._objects_seen.get(name, 1) + 1
        return f"module #{serial}{suffix}"


def _desynced(
    names: Mapping[str, object], entries: Mapping[str, object] | None = None
) -> dict[str, tuple[object, object]]:
    """The submodules among `names` whose package (looked up in `entries`, default `names`) holds another module."""
    packages = names if entries is None else entries
    found: dict[str, tuple[object, object]] = {}
    for name, module in names.items():
        package_name, dot, child = name.rpartition(".")
        if not dot or module is None:
            continue
        attribute = _namespace(packages.get(package_name)).get(child)  # not getattr: a package's __getattr__
        if (
            issubclass(type(attribute), ModuleType)
            and attribute is not module
            and _namespace(attribute).get("__name__") == name
        ):
            found[name] = (module, attribute)
    return found


def _package_slots(
    names: Mapping[str, object], entries: Mapping[str, object] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The namespace of each submodule's package (looked up in `entries`, default `names`), and the submodule's name
    in it, for the submodules among `names`."""
    packages = names if entries is None else entries
    namespaces, children = [], []
    for name in names:
        package_name, dot, child = name.rpartition(".")
        namespace = _namespace(packages.get(package_name)) if dot else None
        if namespace:
            namespaces.append(namespace)
            children.append(child)
    return namespaces, children


def _called_from_user_code(frame: FrameType | None) -> bool:
    """Whether the first caller outside the import machinery is the project's code."""
    while frame is not None and frame.f_code.co_filename.startswith(_IMPORT_MACHINERY):
        frame = frame.f_back
    return frame is not None and origin.is_user_file(frame.f_code.co_filename)


def _defined_in(value: object, module: str) -> bool:
    """A function or class whose definition ran in `module` (what a reload replaces)."""
    if type(value) is FunctionType:
        return bool(value.__module__ == module)
    return issubclass(type(value), type) and vars(value).get("__module__") == module


def _namespace(value: object) -> dict[str, Any]:
    namespace = vars(value) if issubclass(type(value), ModuleType) else None
    return namespace if isinstance(namespace, dict) else {}


def _file(module: object) -> str | None:
    path = _namespace(module).get("__file__")
    return origin.relative_path(path) if isinstance(path, str) else None
