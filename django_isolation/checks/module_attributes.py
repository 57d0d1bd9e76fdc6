"""``module_attributes``: first-party module globals, class attributes and module-level containers a test left changed.

A fixture that replaces a class's method and never puts it back (Matthew
Wilkes' ``PythonVersion.value``), a test that assigns a module function
instead of patching it, a handler appended to a module-level registry: later
tests run against the fake. Only first-party code is watched: modules whose
file is the project's own (not the stdlib, site-packages or django-isolation)
under the working directory or the directory holding the settings package, or
the module prefixes listed in ``DJANGO_ISOLATION_FIRST_PARTY`` (comma-separated).

How writes are seen, cheaply and without changing what code does:

* module globals: each watched module's class is swapped for a ``ModuleType``
  subclass whose ``__setattr__``/``__delattr__`` count the write, keep a raw
  stack of writes from outside the module, then do exactly what ``ModuleType``
  does. ``setattr``, ``monkeypatch``, ``mock.patch`` and re-imports all go
  through it; a module's own ``global x; x = ...`` does not, and that is how
  state a module sets up once on first use stays quiet;
* class attributes: ``type.__setattr__`` cannot be hooked, so each first-party
  class's namespace is compared with a copy at each check point (one C-level
  dict comparison per class, values by identity first, then equality). Who
  wrote a changed attribute is decided by a rule read from the source: an
  attribute that a method of the class or of one of its bases assigns on the
  class itself (``cls.x = ...``, ``Field._creation_counter += 1``,
  ``type(self).x``, ``setattr(cls, "x", ...)``; DRF's ``as_view()``, pytest's
  ``setup_class``) is the class's own state; so is an attribute put back to
  the value it inherits;
* containers (module-level dicts, lists, sets, deques): their lengths at each
  check point, their contents in full when anything moved and at sweeps.

Names a module declares in ``__isolation_state__`` (``"_registry"``,
``"Client.pool"``) and names containing ``cache`` are the module's own state
and never reported.

The check reads namespaces (``vars()``), never attributes: no property,
``__getattr__``, lazy object or deprecation warning runs because of it.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import unittest
from collections import deque
from collections.abc import Hashable, Iterable
from functools import lru_cache
from itertools import compress, count, repeat
from operator import eq, is_, is_not, ne
from types import CodeType, FunctionType, MappingProxyType, MethodType, ModuleType
from typing import Any, ClassVar, Final, NamedTuple

from django_isolation import origin
from django_isolation.checks import Change, register
from django_isolation.checks._code_watch import CODE_WATCH
from django_isolation.evidence import code_names

FIRST_PARTY_ENV: Final = "DJANGO_ISOLATION_FIRST_PARTY"
STATE_DECLARATION: Final = "__isolation_state__"
_CONTAINERS: Final = (dict, list, set, deque)
REACH_DEPTH: Final = 2
"""How many imports deep from a test's module the classes compared at its check points go."""
_ABSENT: Final = object()
_NOT_INHERITED: Final = object()

ADVICE_GLOBAL: Final = (
    "patch it so that it is undone: monkeypatch.setattr({target!r}, ...), or mock.patch({target!r}) as a decorator "
    "or context manager (a started patcher needs addCleanup(patcher.stop))"
)
ADVICE_MONKEYPATCH: Final = (
    "a MonkeyPatch() made by hand (in setUp, a helper) is never undone: self.addCleanup(mp.undo) right after "
    "making it, or the pytest monkeypatch fixture, which undoes {target} at teardown"
)
ADVICE_CLASS: Final = (
    "patch the class attribute so that it is undone: monkeypatch.setattr({owner}, {name!r}, ...) or "
    "mock.patch.object({owner}, {name!r}) as a decorator or context manager; a fixture that assigns it must restore "
    "it after its yield (or in addCleanup)"
)
ADVICE_CONTAINER: Final = (
    "undo the change in tearDown/addCleanup (remove what the test registered), or patch the container with "
    "mock.patch.dict / monkeypatch.setitem; if it is a cache the module fills on first use, declare it in "
    "{module}.__isolation_state__"
)


class _WatchedModule(ModuleType):
    """A module whose attribute writes are counted; otherwise exactly a ``ModuleType``."""

    def __setattr__(self, name: str, value: Any) -> None:
        _Writes.seen(self, name)
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        _Writes.seen(self, name)
        super().__delattr__(name)


class _Writes:
    """Writes to watched modules since the check started: a count, and who wrote from outside each module."""

    count = 0
    active = False
    external: ClassVar[dict[tuple[str, str], origin.RawStack]] = {}
    written: ClassVar[set[str]] = set()  # modules written since the last capture

    @classmethod
    def seen(cls, module: ModuleType, name: str) -> None:
        if not cls.active:
            return
        cls.count += 1
        cls.written.add(module.__name__)
        writer = sys._getframe(2)
        if writer.f_globals is not module.__dict__:  # a module's own code setting its state is not a leak
            cls.external[(module.__name__, name)] = origin.raw_stack(writer)


class _ModuleState:
    """A copy of one module's watched state: globals, its classes' attributes, its containers' contents."""

    __slots__ = ("classes", "containers", "globals", "ignored", "types")

    def __init__(
        self,
        globals: dict[str, Any],
        classes: dict[str, dict[str, Any]],
        types: dict[str, type],
        containers: dict[str, Any],
        ignored: frozenset[str],
    ) -> None:
        self.globals, self.classes, self.types, self.containers, self.ignored = (
            globals, classes, types, containers, ignored
        )  # fmt: skip


State = dict[str, _ModuleState]


class _Watch(NamedTuple):
    """Classes, their namespaces with a copy of each (as at its last move) and containers, with the module of each."""

    classes: list[type]
    namespaces: list[MappingProxyType[str, Any]]
    copies: list[dict[str, Any]]
    class_owners: list[str]
    containers: list[Any]
    container_owners: list[str]

    @classmethod
    def of(cls, watches: dict[str, _Watch]) -> _Watch:
        """One watch of every module's in `watches`."""
        parts = list(watches.values())
        return cls(
            [klass for part in parts for klass in part.classes],
            [namespace for part in parts for namespace in part.namespaces],
            [copy for part in parts for copy in part.copies],
            [owner for part in parts for owner in part.class_owners],
            [container for part in parts for container in part.containers],
            [owner for part in parts for owner in part.container_owners],
        )


@register
class ModuleAttributesCheck:
    """Globals, class attributes and containers of first-party modules changed by a test and not restored."""

    name = "module_attributes"
    first_party_only = True  # the test framework's class fixtures never write the project's modules

    def __init__(self) -> None:
        self._prefixes = tuple(p.strip() for p in os.environ.get(FIRST_PARTY_ENV, "").split(",") if p.strip())
        self._roots = _roots()
        self._modules: dict[str, ModuleType] = {}
        self._rejected: set[str] = set()
        self._held: dict[str, _Watch] = {}  # module -> its classes and containers
        self._everything = _Watch.of({})  # every watched module's, compared at sweeps
        self._compared: _Watch | None = None  # what a check point compares (None: everything)
        self._reach: dict[str, _Watch] = {}  # test module -> what its tests' check points compare
        self._sizes: dict[int, int] = {}  # id of a container -> its length when last looked at
        self._moves = 0  # times something moved outside module writes: a class, a container, new modules
        self._dirty: set[str] = set()  # modules whose state may differ from their last snapshot
        self._states: State = {}  # the last snapshot of each module
        self._found: dict[str, tuple[_ModuleState, list[Change], dict[str, tuple[CodeType, ...]]]] = {}
        self._reference: State = {}
        self._known = 0
        self._readers: dict[str, tuple[CodeType, ...]] = {}  # change key -> code that reads what it changed
        self._reader_codes: frozenset[CodeType] = frozenset()  # all of them, watched while a test runs
        self._reader_cache: dict[str, tuple[Hashable, tuple[CodeType, ...]]] = {}

    def start(self) -> None:
        _Writes.active, _Writes.count, _Writes.external, _Writes.written = True, 0, {}, set()
        self._refresh()

    def stop(self) -> None:
        _Writes.active = False
        CODE_WATCH.stop()
        for module in self._modules.values():
            if type(module) is _WatchedModule:
                module.__class__ = ModuleType  # type: ignore[assignment]

    def fingerprint(self, sweep: bool) -> Hashable:
        if len(sys.modules) != self._known:
            self._refresh()
        watch = self._compared if self._compared is not None and not sweep else self._everything
        moved = _moved_classes(watch.namespaces, watch.copies)
        if moved:
            self._copy_moved_classes(watch, moved)
        if any(map(ne, map(len, watch.containers), map(self._sizes.__getitem__, map(id, watch.containers)))):
            self._note_resized(watch)
        if sweep:  # containers changed in place at equal length
            self._note_changed_in_place()
        return _Writes.count, self._moves

    def test_module(self, name: str | None) -> None:
        """Between sweeps, compare only what the running test's module reaches (its own and its imports')."""
        if name not in self._modules:
            self._compared = None  # not first-party code, or not a module's test: everything
            return
        reach = self._reach.get(name)
        if reach is None:
            reach = self._reach[name] = self._reached(name)
        self._compared = reach

    def _reached(self, name: str) -> _Watch:
        """The classes and containers of module `name` and of the first-party modules its globals reach, two
        imports deep."""
        modules, frontier = {name}, [name]
        for _ in range(REACH_DEPTH):
            frontier = [home for module in frontier for home in self._homes(module) if home not in modules]
            modules.update(frontier)
        return _Watch.of({module: self._held[module] for module in modules if module in self._held})

    def _homes(self, name: str) -> set[str]:
        """The watched modules that the globals of module `name` are, or were defined in."""
        homes = set()
        for value in list(vars(self._modules[name]).values()):
            kind = type(value)
            if issubclass(kind, ModuleType):
                home = vars(value).get("__name__")
            elif issubclass(kind, type):
                home = vars(value).get("__module__")
            else:
                home = value.__module__ if kind is FunctionType else None
            if isinstance(home, str) and home in self._modules:
                homes.add(home)
        return homes

    def _copy_moved_classes(self, watch: _Watch, moved: list[int]) -> None:
        """Copy again the namespaces at the indices `moved` (in place: every watch shares the copies); their modules
        are snapshot again at the next capture, unless only the class's own state moved (``Field._creation_counter``
        counting instances: the diff would find nothing to report)."""
        for index in moved:
            namespace, copy = watch.namespaces[index], watch.copies[index]
            own_state = _only_own_state_moved(watch.classes[index], namespace, copy)
            copy.clear()
            copy.update(namespace)
            if not own_state:
                self._moved(watch.class_owners[index])

    def _note_resized(self, watch: _Watch) -> None:
        for container, owner in zip(watch.containers, watch.container_owners):
            if len(container) != self._sizes[id(container)]:
                self._sizes[id(container)] = len(container)
                self._moved(owner)

    def _note_changed_in_place(self) -> None:
        """Where a module ends: the modules whose containers differ from their last snapshot, same length or not."""
        for name, state in self._states.items():
            namespace = vars(self._modules[name])
            for key, (identity, contents) in state.containers.items():
                value = namespace.get(key)
                if (
                    value is not None
                    and id(value) == identity
                    and not _holds_the_same(value, contents)
                    and _content_difference(contents, _contents(value)[1])
                ):
                    self._moved(name)
                    break

    def _moved(self, module: str) -> None:
        self._moves += 1
        self._dirty.add(module)

    def capture(self) -> State:
        """Snapshot again only the modules that may have changed: written, or a class or container moved."""
        dirty = [name for name in self._modules if name in self._dirty or name in _Writes.written]
        self._dirty.clear()
        _Writes.written.clear()
        reindexed = False
        for name in dirty:
            reindexed |= self._index(name)  # globals rebound since the last look hold other classes and containers
            self._states[name] = _snapshot(self._modules[name], self._states.get(name))
            self._reference.setdefault(name, self._states[name])  # modules first imported after the baseline
        if reindexed:
            self._flatten()
        return dict(self._states)

    def diff(self, baseline: State, current: State) -> list[Change]:
        """The changes of every module, those of modules not snapshot again since the last diff as they were."""
        changes: list[Change] = []
        readers: dict[str, tuple[CodeType, ...]] = {}
        for name, now in current.items():
            known = self._found.get(name)
            if known is None or known[0] is not now:
                known = self._found[name] = (now, *self._module_changes(name, now))
            changes += known[1]
            readers.update(known[2])
        if readers != self._readers:
            self._readers = readers
            self._reader_codes = frozenset(code for codes in readers.values() for code in codes)
        return changes

    def _module_changes(self, name: str, now: _ModuleState) -> tuple[list[Change], dict[str, tuple[CodeType, ...]]]:
        reference = self._reference.get(name)
        if reference is None:
            return [], {}
        found = self._global_changes(name, reference, now)
        found += _class_changes(name, reference, now)
        found += _container_changes(name, reference, now)
        if not CODE_WATCH.available:  # the code that reads a change is only watched through sys.monitoring
            return found, {}
        return found, {change.key: self._readers_of(name, now, change) for change in found}

    def test_started(self) -> None:
        """Watch, while this test runs, the code that reads the state changed so far (Python 3.12+)."""
        CODE_WATCH.clear()
        CODE_WATCH.watch(self._reader_codes)

    def touched(self, change: Change) -> str | None:
        """Evidence that the running test ran code that reads the changed state, or the replacement itself."""
        ran = [code for code in self._readers.get(change.key, ()) if code in CODE_WATCH.ran]
        if not ran:
            return None
        code = ran[0]
        where = f"{origin.relative_path(code.co_filename)}:{code.co_firstlineno} in {code.co_qualname}"
        return f"it ran {where}, which reads {change.subjects[0]}"

    def _readers_of(self, module: str, now: _ModuleState, change: Change) -> tuple[CodeType, ...]:
        """The code of `module` that names the changed attribute, and the replacement's own code."""
        cached = self._reader_cache.get(change.key)
        if cached is not None and cached[0] == change.token:
            return cached[1]
        attribute = change.details["target"].rpartition(".")[2]
        codes = [code for code in _codes_of(now, vars(self._modules[module])) if attribute in code_names(code)]
        replacement = _function_of(_value_of(now, change.details["target"][len(module) + 1 :]))
        if replacement is not None:
            codes.append(replacement.__code__)
        self._reader_cache[change.key] = (change.token, tuple(codes))
        return tuple(codes)

    def _refresh(self) -> None:
        """Watch first-party modules imported since the last look (hook their writes, list their classes)."""
        self._known = len(sys.modules)
        new = []
        for name, module in list(sys.modules.items()):
            if name not in self._modules and name not in self._rejected:
                if self._first_party(name, module):
                    module.__class__ = _WatchedModule
                    self._modules[name] = module
                    new.append(name)
                else:
                    self._rejected.add(name)
        for name in new:
            self._index(name)
            self._moved(name)
        if new:
            self._flatten()

    def _index(self, name: str) -> bool:
        """List the classes and containers module `name` holds now; whether they are others than before."""
        module = self._modules[name]
        types = list(_classes_of(module))
        containers = list(_containers_of(vars(module)).values())
        held = self._held.get(name)
        if held is not None and _same_objects(held.classes, types) and _same_objects(held.containers, containers):
            return False  # the copies are kept up to date in place
        classes = [(vars(cls), dict(vars(cls))) for cls in types]
        self._held[name] = _Watch(
            types, [namespace for namespace, _ in classes], [copy for _, copy in classes], [name] * len(classes),
            containers, [name] * len(containers),
        )  # fmt: skip
        self._sizes.update((id(container), len(container)) for container in containers)
        return True

    def _flatten(self) -> None:
        """Everything, from the modules' own watches; the tests' reaches are made again as they come."""
        self._everything = _Watch.of(self._held)
        self._reach.clear()
        self._compared = None  # until the next test says which module it is from

    def _first_party(self, name: str, module: object) -> bool:
        if name == "__main__" or type(module) is not ModuleType:  # leave modules with a class of their own alone
            return False
        if self._prefixes:
            return any(name == prefix or name.startswith(prefix + ".") for prefix in self._prefixes)
        path = vars(module).get("__file__")  # not getattr: a module's __getattr__ may warn
        # is_user_file first: it rejects most modules (the stdlib, site-packages) and caches its answer per file
        return isinstance(path, str) and origin.is_user_file(path) and os.path.abspath(path).startswith(self._roots)

    def _global_changes(self, module: str, reference: _ModuleState, now: _ModuleState) -> list[Change]:
        changes = []
        for name in reference.globals.keys() | now.globals.keys():
            before, after = reference.globals.get(name, _ABSENT), now.globals.get(name, _ABSENT)
            if before is after:
                _Writes.external.pop((module, name), None)  # restored: a later change by the module itself is its own
                continue
            stack = _Writes.external.get((module, name))
            if stack is None or _quiet(name, now.ignored) or _is_submodule(module, name, after):
                continue  # set by the module's own code, declared, or bound by the import system
            target = f"{module}.{name}"
            advice = (ADVICE_MONKEYPATCH if _by_monkeypatch(stack) else ADVICE_GLOBAL).format(target=target)
            changes.append(_change(target, before, after, advice, origin.user_frames_of(stack), (name,)))
        return changes


def _moved_classes(namespaces: list[MappingProxyType[str, Any]], copies: list[dict[str, Any]]) -> list[int]:
    """The indices of the class namespaces that differ from their copies: ``mappingproxy != dict`` runs in C."""
    try:
        return list(compress(count(), map(ne, namespaces, copies)))
    except Exception:  # noqa: BLE001 - a value whose __eq__ raises (an array) was replaced
        return [index for index, pair in enumerate(zip(namespaces, copies)) if _differs(*pair)]


def _differs(namespace: MappingProxyType[str, Any], copy: dict[str, Any]) -> bool:
    try:
        return bool(namespace != copy)
    except Exception:  # noqa: BLE001 - a value whose __eq__ raises (an array) was replaced
        return True


def _only_own_state_moved(cls: type, namespace: MappingProxyType[str, Any], copy: dict[str, Any]) -> bool:
    """Whether every attribute that differs from `copy` is one the class's own code assigns."""
    # Names bound to another object, in C (a class such as DRF's Field moves at every instance): only those are
    # compared for equality, in Python.
    rebound = compress(
        namespace.keys(), map(is_not, namespace.values(), map(copy.get, namespace.keys(), repeat(_ABSENT)))
    )
    names = [*rebound, *(copy.keys() - namespace.keys())]
    moved = [name for name in names if not _same(namespace.get(name, _ABSENT), copy.get(name, _ABSENT))]
    return bool(moved) and all(_set_by_the_class(cls, name) for name in moved)


def _by_monkeypatch(stack: origin.RawStack) -> bool:
    """Whether pytest's MonkeyPatch.setattr made the write (the fixture would have undone it)."""
    return bool(stack) and stack[0][0].co_filename.endswith(os.path.join("_pytest", "monkeypatch.py"))


def _codes_of(state: _ModuleState, namespace: dict[str, Any]) -> list[CodeType]:
    """The code of a module's own functions and of its classes' methods and properties (not imported ones)."""
    values = [
        *state.globals.values(),
        *(value for attributes in state.classes.values() for value in attributes.values()),
    ]
    functions = (_function_of(value) for value in values)
    return [function.__code__ for function in functions if function is not None and function.__globals__ is namespace]


def _function_of(value: Any) -> FunctionType | None:
    kind = type(value)
    if kind in (staticmethod, classmethod):
        value = value.__func__
    elif kind is property:
        value = value.fget
    return value if type(value) is FunctionType else None


def _value_of(state: _ModuleState, path: str) -> Any:
    """A module global (``name``) or class attribute (``Class.name``) as captured in `state`."""
    owner, _, name = path.rpartition(".")
    namespace = state.classes.get(owner, {}) if owner else state.globals
    return namespace.get(name)


def _roots() -> tuple[str, ...]:
    """The working directory and the directory holding the settings package."""
    roots = {os.getcwd()}
    settings = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    package = sys.modules.get(settings.partition(".")[0]) if settings else None
    path = getattr(package, "__file__", None)
    if isinstance(path, str):
        roots.add(os.path.dirname(os.path.dirname(os.path.abspath(path))))
    return tuple(os.path.join(root, "") for root in roots)


def _classes_of(module: ModuleType) -> Iterable[type]:
    # type(value), not isinstance(): isinstance() reads __class__, which a lazy object evaluates. A TestCase's
    # class attributes are its fixtures (setUpClass, setUpTestData): not watched.
    name = vars(module).get("__name__")
    for value in list(vars(module).values()):
        if (
            issubclass(type(value), type)
            and vars(value).get("__module__") == name
            and not issubclass(value, unittest.TestCase)
        ):
            yield value


def _containers_of(namespace: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in namespace.items()
        if issubclass(type(value), _CONTAINERS) and not (key.startswith("__") and key.endswith("__"))
    }


def _snapshot(module: ModuleType, previous: _ModuleState | None) -> _ModuleState:
    """A copy of `module`'s state; a class namespace equal to its `previous` copy is that copy (unchanged since)."""
    namespace = vars(module)
    declared = namespace.get(STATE_DECLARATION, ())
    ignored = frozenset(declared) if type(declared) in (list, tuple, set, frozenset) else frozenset()
    classes = {cls.__qualname__: cls for cls in _classes_of(module)}
    return _ModuleState(
        globals=dict(namespace),
        classes={qualname: _class_copy(cls, qualname, previous) for qualname, cls in classes.items()},
        types=classes,
        containers={key: _contents(value) for key, value in _containers_of(namespace).items()},
        ignored=ignored,
    )


def _class_copy(cls: type, qualname: str, previous: _ModuleState | None) -> dict[str, Any]:
    kept = None if previous is None or previous.types.get(qualname) is not cls else previous.classes[qualname]
    return kept if kept is not None and not _differs(vars(cls), kept) else dict(vars(cls))


def _same_objects(these: list[Any], those: list[Any]) -> bool:
    return len(these) == len(those) and all(map(is_, these, those))


def _contents(container: Any) -> Any:
    if isinstance(container, dict):
        return (id(container), dict(container))
    if isinstance(container, set):
        return (id(container), frozenset(container))
    return (id(container), tuple(container))


def _quiet(name: str, ignored: frozenset[str]) -> bool:
    return name in ignored or "cache" in name.lower() or (name.startswith("__") and name.endswith("__"))


def _class_changes(module: str, reference: _ModuleState, now: _ModuleState) -> list[Change]:
    changes = []
    for qualname, attributes in now.classes.items():
        was = reference.classes.get(qualname)
        if was is None or was is attributes:
            continue
        cls = now.types[qualname]
        if cls is not reference.types.get(qualname):
            continue  # another class object under the name: the module ran again (module_identity's reload)
        for name in was.keys() | attributes.keys():
            before, after = was.get(name, _ABSENT), attributes.get(name, _ABSENT)
            if (
                _same(before, after)
                or _quiet(name, reference.ignored)
                or _quiet(f"{qualname}.{name}", reference.ignored)
            ):
                continue
            if _set_by_the_class(cls, name) or _inherited(cls, name) in (before, after):
                continue  # the class's own code wrote it, or it is back to what the class inherits
            advice = ADVICE_CLASS.format(owner=qualname, name=name)
            subject = f"{qualname.rpartition('.')[2]}.{name}"
            changes.append(
                _change(f"{module}.{qualname}.{name}", before, after, advice, _defined_at(after), (subject,))
            )
    return changes


def _container_changes(module: str, reference: _ModuleState, now: _ModuleState) -> list[Change]:
    changes = []
    for name, (identity, contents) in now.containers.items():
        was = reference.containers.get(name)
        if was is None or was[0] != identity or _quiet(name, reference.ignored):
            continue  # a new or rebound container is a global change, reported (or not) as such
        difference = _content_difference(was[1], contents)
        if difference:
            target = f"{module}.{name}"
            changes.append(
                Change(
                    key=f"{target} (contents)",
                    token=hash(difference),
                    summary=f"contents of {target} changed in place: {difference}",
                    before=_short(was[1]),
                    after=_short(contents),
                    advice=ADVICE_CONTAINER.format(module=module),
                    details={"change": "contents", "target": target, "difference": difference},
                    subjects=(name,),
                )
            )
    return changes


def _holds_the_same(container: Any, copied: Any) -> bool:
    """Whether `container` holds the very objects of its copy, in order (decided in C; False: compare in detail)."""
    try:
        if len(copied) != len(container):
            return False
        if isinstance(copied, dict):
            return all(map(is_, copied.values(), container.values())) and all(map(eq, copied, container))
        if isinstance(copied, frozenset):
            return bool(copied == container)
        return all(map(is_, copied, container))
    except Exception:  # noqa: BLE001 - a key whose __eq__ raises
        return False


def _content_difference(before: Any, after: Any) -> str:
    if isinstance(before, dict):
        added = [repr(k) for k in after if k not in before]
        removed = [repr(k) for k in before if k not in after]
        replaced = [repr(k) for k in after if k in before and after[k] is not before[k]]
        parts = [("added keys", added), ("removed keys", removed), ("replaced values of", replaced)]
        return "; ".join(f"{label} {', '.join(keys[:5])}" for label, keys in parts if keys)
    if isinstance(before, frozenset):
        added, removed = after - before, before - after
        parts2 = [("added", added), ("removed", removed)]
        return "; ".join(f"{label} {', '.join(sorted(map(repr, items))[:5])}" for label, items in parts2 if items)
    if len(before) != len(after) or any(a is not b for a, b in zip(before, after)):
        return f"{len(before)} item(s) -> {len(after)} item(s)"
    return ""


def _same(before: Any, after: Any) -> bool:
    """The same value, or an equal one (as the check point's comparison sees it)."""
    if before is after:
        return True
    try:
        return bool(before == after)
    except Exception:  # noqa: BLE001 - an __eq__ that raises or returns an array: not the same
        return False


def _inherited(cls: type, name: str) -> Any:
    """The value `cls` would have for `name` without its own entry (from its bases' namespaces), or a marker."""
    for base in cls.__mro__[1:]:
        namespace = vars(base)
        if name in namespace:
            return namespace[name]
    return _NOT_INHERITED


def _set_by_the_class(cls: type, name: str) -> bool:
    """Whether a method of `cls` or of a base assigns `name` on the class itself (its own state, first-use set-up)."""
    for base in cls.__mro__:
        module = sys.modules.get(vars(base).get("__module__") or "")
        path = vars(module).get("__file__") if module is not None else None
        if isinstance(path, str) and _may_assign(path, name) and name in _class_writes(path).get(base.__qualname__, ()):
            return True
    return False


@lru_cache(maxsize=4096)
def _may_assign(path: str, name: str) -> bool:
    """Whether the source at `path` names `name` as :func:`_assigned` can assign it (after a dot, or as a string for
    ``setattr``): a file that cannot is not parsed (most of a moved class's bases' files, Django's among them)."""
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read()
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    escaped = re.escape(name)
    return re.search(rf"\.\s*{escaped}\b|['\"]{escaped}['\"]", text) is not None


@lru_cache(maxsize=512)
def _class_writes(path: str) -> dict[str, frozenset[str]]:
    """Class qualname -> the attributes its methods assign on the class itself, read from the source at `path`."""
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read()
        tree = ast.parse(text, path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    lines = text.splitlines()
    found: dict[str, frozenset[str]] = {}
    pending = [(node, "") for node in tree.body if isinstance(node, ast.ClassDef)]
    while pending:
        node, prefix = pending.pop()
        qualname = prefix + node.name
        methods = [
            item
            for item in node.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            and _may_assign_on_class(item, node.name, lines)
        ]
        found[qualname] = frozenset(
            name for method in methods for statement in ast.walk(method) for name in _assigned(statement, node.name)
        )
        pending += [(item, qualname + ".") for item in node.body if isinstance(item, ast.ClassDef)]
    return found


def _may_assign_on_class(method: ast.AST, class_name: str, lines: list[str]) -> bool:
    """Whether the source of `method` names the class as :func:`_is_the_class` recognises it (walking only those
    methods' trees is most of the saving: few methods do)."""
    source = "\n".join(lines[method.lineno - 1 : method.end_lineno])  # type: ignore[attr-defined]
    return any(word in source for word in ("cls", "klass", "__class__", "type", class_name))


def _assigned(node: ast.AST, class_name: str) -> Iterable[str]:
    """Attribute names `node` assigns on the class: ``cls.x =``, ``Name.x +=``, ``type(self).x =``, ``setattr(cls, "x", v)``."""
    if isinstance(node, ast.Assign):
        targets = [t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" and node.args:
        if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and _is_the_class(node.args[0], class_name):
            yield str(node.args[1].value)
        return
    else:
        return
    for target in targets:
        if isinstance(target, ast.Attribute) and _is_the_class(target.value, class_name):
            yield target.attr


def _is_the_class(node: ast.expr, class_name: str) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("cls", "klass", class_name)
    if isinstance(node, ast.Attribute):  # self.__class__
        return node.attr == "__class__" and isinstance(node.value, ast.Name) and node.value.id == "self"
    return (  # type(self)
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "type"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "self"
    )


def _is_submodule(package: str, name: str, value: Any) -> bool:
    """The import system binding a submodule to its package: module_identity's business."""
    return issubclass(type(value), ModuleType) and vars(value).get("__name__") == f"{package}.{name}"


def _change(
    target: str, before: Any, after: Any, advice: str, frames: tuple[origin.Frame, ...], subjects: tuple[str, ...]
) -> Change:
    kind = "added" if before is _ABSENT else "deleted" if after is _ABSENT else "replaced"
    defined = _defined_at(after)
    return Change(
        key=target,
        token=None if after is _ABSENT else id(after),
        summary=f"{target} {kind}" + (f" by {_describe(after)}" if kind == "replaced" else ""),
        before=_describe(before),
        after=_describe(after),
        advice=advice,
        details={"change": kind, "target": target, "defined_at": str(defined[0]) if defined else None},
        origin=frames,
        subjects=subjects,
    )


def _defined_at(value: Any) -> tuple[origin.Frame, ...]:
    """Where a function or class value was defined: the fake a polluting test put in place."""
    if type(value) in (staticmethod, classmethod, MethodType):
        value = value.__func__
    if type(value) is FunctionType:
        code = value.__code__
        return (origin.Frame(origin.relative_path(code.co_filename), code.co_firstlineno, code.co_name),)
    if issubclass(type(value), type):
        try:
            _, line = inspect.getsourcelines(value)
            return (origin.Frame(origin.relative_path(inspect.getfile(value)), line, value.__qualname__),)
        except (OSError, TypeError):
            return ()
    return ()


def _describe(value: Any) -> str | None:
    if value is _ABSENT:
        return None
    defined = _defined_at(value)
    if defined:
        name = getattr(value, "__qualname__", None) or type(value).__name__
        return f"{name} (defined at {defined[0].file}:{defined[0].line})"
    return _short(value)


def _short(value: Any) -> str:
    """A short text of `value`: its repr for plain data, else its type (a repr may query, evaluate or warn)."""
    if _plain(value):
        text = repr(value)
    else:
        kind = type(value)
        text = f"<{kind.__module__}.{kind.__qualname__} object>"
    return text if len(text) <= 120 else text[:117] + "..."


_SCALARS: Final = (int, float, complex, str, bytes, bool, type(None))


def _plain(value: Any, depth: int = 0) -> bool:
    """Builtin data all the way down (a few levels): safe to repr."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > 2 or kind not in (tuple, list, set, frozenset, dict, deque):
        return False
    items = [*value.keys(), *value.values()] if kind is dict else list(value)
    return len(items) <= 50 and all(_plain(item, depth + 1) for item in items)
