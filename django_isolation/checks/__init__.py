"""The check interface and registry.

A check watches one kind of shared state. The engine asks it for a cheap
``fingerprint(sweep)`` at every check point and for a full ``capture()`` only
when the fingerprint moved; ``diff(baseline, current)`` turns two captures
into :class:`Change` objects keyed by a stable identity of the state item.
``sweep`` is true at the baseline and where a module (or a package, or the
session) ends: a check that looks only at what it saw change looks at
everything there.

A new check is one module that defines a class and decorates it with
:func:`register`; third-party checks are found through the
``django_isolation.checks`` entry-point group::

    from django_isolation.checks import Change, register

    @register
    class EnvironCheck:
        name = "environ"

        def start(self) -> None: ...
        def stop(self) -> None: ...
        def fingerprint(self, sweep: bool) -> object: return tuple(os.environ.items())
        def capture(self) -> object: return dict(os.environ)
        def diff(self, baseline, current): ...

A check that watches only state of the project's own code may set
``first_party_only = True``: the engine does not ask it at the check points
around the test framework's class-scoped fixtures, which run none of that code.

The built-in checks in :data:`BUILTIN_DEFAULTS` run by default; a
third-party check does unless its class sets ``default = False``. The
``--isolation-checks`` option picks checks by name. Only the modules of the
checks a run uses are imported.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, NamedTuple, Protocol, TypeVar

from django_isolation.origin import Frame

ENTRY_POINT_GROUP: Final = "django_isolation.checks"
BUILTIN_MODULES: Final = (
    "django_isolation.checks.apps_registry",
    "django_isolation.checks.db_rows",
    "django_isolation.checks.db_schema",
    "django_isolation.checks.migration_drift",
    "django_isolation.checks.module_identity",
    "django_isolation.checks.module_attributes",
    "django_isolation.checks.django_settings",
    "django_isolation.checks.signals",
    "django_isolation.checks.caches",
    "django_isolation.checks.translation",
    "django_isolation.checks.timezone",
    "django_isolation.checks.urlconf",
    "django_isolation.checks.mock_patches",
    "django_isolation.checks.time_freezing",
    "django_isolation.checks.media_files",
    "django_isolation.checks.db_connections",
    "django_isolation.checks.environ",
    "django_isolation.checks.cwd",
    "django_isolation.checks.sys_path",
    "django_isolation.checks.import_hooks",
    "django_isolation.checks.threads",
    "django_isolation.checks.logging_config",
    "django_isolation.checks.warnings_filters",
    "django_isolation.checks.locale_state",
    "django_isolation.checks.subclasses",
)

BUILTIN_DEFAULTS: Final = tuple(module.rpartition(".")[2] for module in BUILTIN_MODULES)
"""The built-in checks that run without ``--isolation-checks``: every one, in :data:`BUILTIN_MODULES` order.

A user who turns the checks on sees every kind of leak; what each costs is in docs/performance.md.
"""


class Change(NamedTuple):
    """One state item that differs from the session baseline.

    ``key`` identifies the item within its check; ``token`` identifies its
    current value (two changes of the same key with equal tokens are the same
    change); ``details`` goes to the JSON report as is. ``subjects`` are the
    names a test that comes near the state would use (a setting, a table, a
    global, a cache key; ``Class.attribute``): a failure whose message or
    traceback names one is linked to the leak (:mod:`django_isolation.evidence`).
    ``cause`` (``"<check>:<what>"``) is shared by the changes several checks
    see of one cause (``TZ`` as an environment variable and as the process time
    zone; a module reload): one finding, that of the check the cause names.
    """

    key: str
    token: Hashable
    summary: str
    before: str | None
    after: str | None
    advice: str
    details: Mapping[str, Any] = MappingProxyType({})  # shared, and read-only
    origin: tuple[Frame, ...] = ()
    subjects: tuple[str, ...] = ()
    cause: str | None = None


ORDER_KEY: Final = "<order>"
"""The key of the one change an ordered list gets when only the order of its items moved."""


def ordered_changes(
    before: Sequence[str], after: Sequence[str], item: Callable[[str, str], Change], what: str, advice: str
) -> list[Change]:
    """Items added to or removed from an ordered list (``item(value, "added"|"removed")``), or else its reordering."""
    old, new = set(before), set(after)
    changes = [item(value, "added") for value in dict.fromkeys(after) if value not in old]
    changes += [item(value, "removed") for value in dict.fromkeys(before) if value not in new]
    if not changes and tuple(before) != tuple(after):
        changes.append(
            Change(
                key=ORDER_KEY,
                token=tuple(after),
                summary=f"{what} reordered",
                before=repr(list(before)),
                after=repr(list(after)),
                advice=advice,
                details={"change": "reordered"},
            )
        )
    return changes


class Check(Protocol):
    """What the engine needs from a check; see the module docstring."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def fingerprint(self, sweep: bool) -> Hashable: ...

    def capture(self) -> Any: ...

    def diff(self, baseline: Any, current: Any) -> list[Change]: ...


CheckClass = TypeVar("CheckClass", bound=type)
_REGISTRY: dict[str, type] = {}


def register(cls: CheckClass) -> CheckClass:
    """Class decorator: make a check available under its ``name``."""
    _REGISTRY[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def available(builtins: Iterable[str] | None = None) -> dict[str, type]:
    """Registered check classes by name: the built-ins (only those named in `builtins`, if given), then entry points.

    A built-in check ``x`` lives in ``django_isolation.checks.x``; importing
    only the ones a run uses keeps the start of a run short.
    """
    chosen = None if builtins is None else set(builtins)
    for module in BUILTIN_MODULES:
        if chosen is None or module.rpartition(".")[2] in chosen:
            importlib.import_module(module)
    if _declared_anywhere(ENTRY_POINT_GROUP):
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            entry.load()
    return {name: cls for name, cls in _REGISTRY.items() if chosen is None or name in chosen or not _builtin(cls)}


def _declared_anywhere(group: str) -> bool:
    """Whether an installed distribution's ``entry_points.txt`` names `group`.

    A cheap look before ``importlib.metadata``, which costs about 35 M instructions to import and scan
    (Python 3.11) and is rarely needed: most runs have no third-party check.
    """
    header = f"[{group}]"
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except NotADirectoryError:  # a zip: only importlib.metadata reads those
            return True
        except OSError:  # a missing entry
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")) and header in _read(os.path.join(folder, name)):
                return True
    return False


def _read(distribution: str) -> str:
    try:
        with open(os.path.join(distribution, "entry_points.txt"), encoding="utf-8") as declared:
            return declared.read()
    except OSError:
        return ""


def _builtin(cls: type) -> bool:
    return cls.__module__ in BUILTIN_MODULES


ALL: Final = "all"
DEFAULT: Final = "default"
EXCLUDE: Final = "no:"


def create(names: str | None = None) -> list[Check]:
    """Instances of the checks `names` selects; None selects the defaults.

    `names` is comma-separated: check names, ``all``, ``default``, and
    ``no:NAME`` to leave a check out (``no:threads`` alone: the defaults but
    ``threads``; ``all,no:db_rows``). The built-in defaults are
    :data:`BUILTIN_DEFAULTS`; a third-party check is a default unless its
    class sets ``default = False``.
    """
    tokens = [token.strip() for token in (names or DEFAULT).split(",") if token.strip()]
    excluded = {token.removeprefix(EXCLUDE).strip() for token in tokens if token.startswith(EXCLUDE)}
    wanted = [token for token in tokens if not token.startswith(EXCLUDE)] or ([DEFAULT] if excluded else [])
    classes = available(None if ALL in wanted else _builtins_named(wanted))
    selected = [name for token in wanted for name in _expand(token, classes)]
    known = classes.keys() | {module.rpartition(".")[2] for module in BUILTIN_MODULES}
    unknown = [name for name in [*selected, *excluded] if name not in known]
    if unknown or not wanted:
        named = ", ".join(unknown) if unknown else repr(names)
        raise ValueError(f"unknown isolation check(s) {named}; known: {', '.join(available())}, {ALL}, {DEFAULT}")
    return [classes[name]() for name in dict.fromkeys(selected) if name not in excluded]


def _builtins_named(tokens: Iterable[str]) -> set[str]:
    """The built-in checks `tokens` name, ``default`` standing for :data:`BUILTIN_DEFAULTS`."""
    names = {name for token in tokens for name in (BUILTIN_DEFAULTS if token == DEFAULT else (token,))}
    return {name for name in names if f"{__name__}.{name}" in BUILTIN_MODULES}


def _expand(token: str, classes: Mapping[str, type]) -> list[str]:
    if token == ALL:
        return list(classes)
    if token == DEFAULT:
        return [n for n, cls in classes.items() if n in BUILTIN_DEFAULTS or (not _builtin(cls) and _default(cls))]
    return [token]


def _default(cls: type) -> bool:
    return bool(getattr(cls, "default", True))
