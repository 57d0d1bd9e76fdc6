"""``subclasses``: classes a test defined that a walked class hierarchy still lists after it (``__subclasses__()``).

A ``class`` statement inside a test (``class CustomForeignKey(ForeignKey)``,
``class FakePlugin(Plugin)``) makes a class that lives on after the test: a
class holds reference cycles, so only the garbage collector frees it,
whenever it next runs, and until then ``Base.__subclasses__()`` lists it. Code
that walks the hierarchy then sees the test's class: a plugin registry built
from ``Plugin.__subclasses__()``, a test that checks every ``Field``
subclass; it fails only when the defining test ran first.

Watched: classes made by a ``class`` statement inside a function of the
project's code (``<locals>`` in their qualified name) while the check runs,
still alive at a check point, deriving from a class whose hierarchy the
project's code walks, read from the first-party sources:

* ``X.__subclasses__()`` where ``X`` is a global name: ``X`` is walked;
* ``f(X)`` where ``f`` walks its parameter (``def every_subclass(cls): ...
  cls.__subclasses__()``): ``X`` is walked;
* a walk of anything else (``self.base.__subclasses__()``, a walking function
  never called with a class): the hierarchies of Django's base classes
  (:data:`DJANGO_BASES`) and of every first-party class are.

Nothing is watched in a project whose code never walks a hierarchy (Django's
own walks, of a model's subclasses for the migration state and of lookups,
tolerate a class that is gone from the app registry). ``builtins.__build_class__``,
which a ``class`` statement calls, is wrapped while the check is on, to keep
a weak reference to each local class of the project's code and the stack that
defined it. A model in the global app registry is ``apps_registry``'s. The
check never runs the garbage collector (that would change what later tests
see): whether a class is still alive at its test's end depends on when the
collector last ran, and a class reported may be freed later (the next sweep
sees it gone).
"""

from __future__ import annotations

import ast
import builtins
import sys
import weakref
from collections.abc import Hashable, Iterable
from functools import lru_cache
from types import ModuleType
from typing import Any, Final, NamedTuple

from django_isolation import origin
from django_isolation.checks import Change, register

DJANGO_BASES: Final = (
    "django.db.models.Model",
    "django.db.models.Field",
    "django.forms.Field",
    "django.forms.BaseForm",
    "django.forms.Widget",
    "django.core.files.storage.Storage",
)
ADVICE: Final = (
    "define the class once at module level (or in the test app's models.py for a model) instead of inside the "
    "test; a test that must define it can take it out of the hierarchy: del the class and run gc.collect() in "
    "tearDown / addCleanup"
)


class _Made:
    """A class a ``class`` statement of the project's code made inside a function, and where."""

    __slots__ = ("cls", "stack", "walked")

    def __init__(self, cls: weakref.ref[type], stack: origin.RawStack) -> None:
        self.cls, self.stack = cls, stack
        self.walked: type | None = None  # the walked base it derives from


@register
class SubclassesCheck:
    """Classes defined inside the project's functions, still listed by a walked class's ``__subclasses__()``."""

    name = "subclasses"

    def __init__(self) -> None:
        self._made: list[_Made] = []  # appended by the class-statement hook; emptied by captures
        self._taken = 0  # how many captures took from it
        self._kept: list[_Made] = []  # those that derive from a walked base
        self._original: Any = None
        self._hook: Any = None
        self._walks = _Walks()

    def start(self) -> None:
        original, made = builtins.__build_class__, self._made

        def __build_class__(function: Any, name: str, *bases: Any, **keywords: Any) -> Any:
            __tracebackhide__ = True  # pytest leaves this frame out of tracebacks
            cls = original(function, name, *bases, **keywords)
            if isinstance(cls, type) and "<locals>" in cls.__qualname__:  # defined inside a function
                caller = sys._getframe(1)
                if origin.is_user_file(caller.f_code.co_filename):
                    made.append(_Made(weakref.ref(cls), origin.raw_stack(caller)))
            return cls

        self._original, self._hook = original, __build_class__
        builtins.__build_class__ = __build_class__

    def stop(self) -> None:
        if self._original is not None and builtins.__build_class__ is self._hook:  # nobody wrapped ours since
            builtins.__build_class__ = self._original
        self._original = self._hook = None

    def fingerprint(self, sweep: bool) -> Hashable:
        made = self._taken + len(self._made)
        if not sweep:
            return made
        return made, sum(1 for kept in self._kept if kept.cls() is not None)  # and those freed since

    def capture(self) -> dict[str, _Made]:
        made, self._made[:] = list(self._made), []
        self._taken += len(made)
        for new in made:
            new.walked = self._walks.base_of(new.cls())
            if new.walked is not None:
                self._kept.append(new)
        self._kept = [kept for kept in self._kept if kept.cls() is not None]
        alive: dict[str, _Made] = {}
        for made in self._kept:
            cls = made.cls()
            if cls is not None and not _registered_model(cls):
                alive[_unique(alive, f"{cls.__module__}.{cls.__qualname__}")] = made
        return alive

    def diff(self, baseline: dict[str, _Made], current: dict[str, _Made]) -> list[Change]:
        return [self._change(key, made) for key, made in current.items() if baseline.get(key) is not made]

    def _change(self, key: str, made: _Made) -> Change:
        cls, walked = made.cls(), made.walked
        assert cls is not None and walked is not None
        direct = next(base for base in cls.__bases__ if issubclass(base, walked))
        where = "" if direct is walked else f", in {walked.__name__}'s hierarchy"
        walker = self._walks.why(walked)
        return Change(
            key=key,
            token=id(made),
            summary=f"class {cls.__qualname__} still listed by {direct.__name__}.__subclasses__(){where} ({walker})",
            before=None,
            after=f"{cls.__module__}.{cls.__qualname__}",
            advice=ADVICE,
            details={"change": "outlives", "base": f"{walked.__module__}.{walked.__qualname__}"},
            origin=origin.user_frames_of(made.stack),
            subjects=(cls.__name__,),
        )


class _Walks:
    """The classes whose ``__subclasses__()`` the project's code walks, read from its source."""

    def __init__(self) -> None:
        self._scanned: set[str] = set()
        self._modules = 0
        self._sources: list[tuple[ModuleType, str, _SourceWalks]] = []  # first-party modules that walk
        self._first_party: list[tuple[ModuleType, str]] = []  # every first-party module: (module, path)
        self._named: dict[type, str] = {}  # walked class -> where the project's code walks it
        self._broad: str | None = None  # where a walk of a hierarchy the source does not name is, if one is

    def base_of(self, cls: type | None) -> type | None:
        """The nearest walked class `cls` derives from, or None."""
        if cls is None:
            return None
        self._scan()
        for base in cls.__mro__[1:]:
            if base in self._named:
                return base
            if self._broad is not None and (base in _django_bases() or _first_party_class(base)):
                return base
        return None

    def why(self, base: type) -> str:
        return f"walked at {self._named.get(base) or self._broad}"

    def _scan(self) -> None:
        """Read the first-party modules imported since the last scan; resolve what their walks name."""
        if len(sys.modules) == self._modules:
            return
        self._modules = len(sys.modules)
        for name, module in list(sys.modules.items()):
            if name in self._scanned:
                continue
            self._scanned.add(name)
            path = vars(module).get("__file__") if isinstance(module, ModuleType) else None
            if isinstance(path, str) and path.endswith(".py") and origin.is_user_file(path):
                self._first_party.append((module, path))
                walks = _walks_in(path)
                if walks.named or walks.walkers or walks.opaque:
                    self._sources.append((module, origin.relative_path(path), walks))
        self._resolve()

    def _resolve(self) -> None:
        """Walked classes: those a walk names, and those passed to a function that walks its parameter; a walk
        of anything else (or a walking function never called with a class) watches every hierarchy."""
        walkers = {function: where for _, _, walks in self._sources for function, where in walks.walkers}
        for module, path, walks in self._sources:
            for line, dotted in walks.named:
                self._note(_resolve(module, dotted), f"{path}:{line}")
            if walks.opaque and self._broad is None:
                self._broad = f"{path}:{walks.opaque[0]}"
        called: set[str] = set()
        for module, path in self._first_party if walkers else ():
            for line, function, argument in _calls_in(path, frozenset(walkers)):
                if isinstance(walked := _resolve(module, argument), type):
                    self._named.setdefault(walked, f"{origin.relative_path(path)}:{line}")
                    called.add(function)
        uncalled = [where for function, where in walkers.items() if function not in called]
        if uncalled and self._broad is None:
            self._broad = uncalled[0]

    def _note(self, walked: object, where: str) -> None:
        if isinstance(walked, type):
            self._named.setdefault(walked, where)
        elif self._broad is None:
            self._broad = where


class _SourceWalks(NamedTuple):
    """What one source file walks: ``X.__subclasses__()`` of a name, of a function's parameter (that function
    is a walker), of anything else."""

    named: tuple[tuple[int, tuple[str, ...]], ...]
    walkers: tuple[tuple[str, str], ...]  # (function, "path:line")
    opaque: tuple[int, ...]


@lru_cache(maxsize=1024)
def _walks_in(path: str) -> _SourceWalks:
    tree = _tree(path, ("__subclasses__",))
    if tree is None:
        return _SourceWalks((), (), ())
    named, walkers, opaque = [], [], []
    for function, node in _subclass_walks(tree):
        dotted = _dotted(node.value)
        parameters = {argument.arg for argument in function.args.args} if function is not None else set()
        if dotted is not None and dotted[0] in parameters and len(dotted) == 1:
            walkers.append((function.name, f"{origin.relative_path(path)}:{node.lineno}"))  # type: ignore[union-attr]
        elif dotted is not None and dotted[0] not in parameters and dotted[0] not in _assigned_names(function):
            named.append((node.lineno, dotted))
        else:
            opaque.append(node.lineno)
    return _SourceWalks(tuple(named), tuple(walkers), tuple(opaque))


def _tree(path: str, words: Iterable[str]) -> ast.AST | None:
    """The syntax tree of the source at `path` if it contains one of `words` (most sources do not: not parsed)."""
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read()
        return ast.parse(text, path) if any(word in text for word in words) else None
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None


def _subclass_walks(tree: ast.AST) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.Attribute]]:
    """Each ``X.__subclasses__`` attribute with the innermost function around it (None at module level)."""
    found = []
    pending: list[tuple[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef | None]] = [(tree, None)]
    while pending:
        node, function = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node
        if isinstance(node, ast.Attribute) and node.attr == "__subclasses__":
            found.append((function, node))
        pending += [(child, function) for child in ast.iter_child_nodes(node)]
    return found


def _assigned_names(function: ast.AST | None) -> set[str]:
    """Local names `function` binds (a loop variable, an assignment): not the module's globals."""
    if function is None:
        return set()
    return {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


@lru_cache(maxsize=1024)
def _calls_in(path: str, functions: frozenset[str]) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """Calls ``f(X, ...)`` / ``m.f(X, ...)`` of one of `functions` in the source at `path` whose first argument is
    a dotted name: (line, f, X)."""
    tree = _tree(path, functions)
    calls: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Call) and node.args:
            callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            argument = _dotted(node.args[0])
            if callee in functions and argument is not None:
                calls.append((node.lineno, callee, argument))
    return tuple(calls)


def _dotted(node: ast.expr) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return (node.id, *reversed(parts))


def _resolve(module: ModuleType, dotted: tuple[str, ...]) -> object:
    """The object a dotted name means in `module`'s globals, read through namespaces (no property runs)."""
    value: object = vars(module).get(dotted[0], vars(builtins).get(dotted[0]))
    for part in dotted[1:]:
        if not isinstance(value, (ModuleType, type)):
            return None
        value = vars(value).get(part)
    return value


def _first_party_class(cls: type) -> bool:
    module = sys.modules.get(vars(cls).get("__module__") or "")
    path = vars(module).get("__file__") if module is not None else None
    return isinstance(path, str) and origin.is_user_file(path) and "<locals>" not in cls.__qualname__


def _django_bases() -> tuple[type, ...]:
    """The classes of :data:`DJANGO_BASES` whose modules are imported."""
    found = []
    for public in DJANGO_BASES:
        module, _, name = public.rpartition(".")
        value = vars(sys.modules[module]).get(name) if module in sys.modules else None
        if isinstance(value, type):
            found.append(value)
    return tuple(found)


def _model() -> type | None:
    module = sys.modules.get("django.db.models")
    return vars(module).get("Model") if module is not None else None


def _is_model(cls: type) -> bool:
    model = _model()
    return model is not None and isinstance(cls, type) and issubclass(cls, model)


def _registered_model(cls: type) -> bool:
    """A model the global app registry holds: ``apps_registry`` reports it."""
    if not _is_model(cls):
        return False
    from django.apps import apps

    meta: Any = vars(cls).get("_meta")
    return meta is not None and apps.all_models.get(meta.app_label, {}).get(meta.model_name) is cls


def _unique(taken: dict[str, Any], key: str) -> str:
    number, unique = 1, key
    while unique in taken:
        number += 1
        unique = f"{key} #{number}"
    return unique
