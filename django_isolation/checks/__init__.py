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

A check is on by default unless its class sets ``default = False``; the
``--isolation-checks`` option picks checks by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Final, Protocol, TypeVar

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
)


@dataclass(frozen=True)
class Change:
    """One state item that differs from the session baseline.

    ``key`` identifies the item within its check; ``token`` identifies its
    current value (two changes of the same key with equal tokens are the same
    change); ``details`` goes to the JSON report as is.
    """

    key: str
    token: Hashable
    summary: str
    before: str | None
    after: str | None
    advice: str
    details: Mapping[str, Any] = field(default_factory=dict)
    origin: tuple[Frame, ...] = ()


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


def available() -> dict[str, type]:
    """Every registered check class by name: the built-ins, then entry points."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()
    return dict(_REGISTRY)


def create(names: str | None = None) -> list[Check]:
    """Instances of the checks `names` selects: comma-separated names, ``all``, or None for the defaults.

    A check class is a default unless it sets ``default = False``.
    """
    classes = available()
    if names is None:
        return [cls() for cls in classes.values() if getattr(cls, "default", True)]
    if names.strip() == "all":
        return [cls() for cls in classes.values()]
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in classes]
    if unknown or not wanted:
        named = ", ".join(unknown) if unknown else repr(names)
        raise ValueError(f"unknown isolation check(s) {named}; known: {', '.join(classes)}, all")
    return [classes[name]() for name in dict.fromkeys(wanted)]
