"""``django_settings``: Django settings assigned or deleted by a test and never restored.

``settings.FEATURE_X = True`` in a test stays for the rest of the process;
``override_settings`` (decorator, context manager, or ``enable()`` with a
matching ``disable()``) and pytest-django's ``settings`` fixture put the
original back. The check sees every write made through ``django.conf.settings``
by wrapping ``LazySettings.__setattr__``/``__delattr__`` at class level: the
wrapper records a counter and the writer's raw stack (no work when nothing is
written) and then calls Django's own method, so behaviour does not change. The
fingerprint is that counter and the identity of ``settings._wrapped``; the
settings are compared value by value only when it moved. Writes straight onto
``settings._wrapped`` are seen at sweeps (module ends), where the identities of
every value are compared. In-place mutation of a mutable setting
(``settings.INSTALLED_APPS.append(...)``) is not seen.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Callable, Hashable
from types import FunctionType
from typing import Any, Final, NamedTuple

from django.conf import LazySettings, Settings, UserSettingsHolder, settings

from django_isolation import origin
from django_isolation.checks import Change, register

WRAPPED: Final = "_wrapped"
# Bookkeeping of Settings, not a setting: an override holder reports None for it.
NOT_SETTINGS: Final = frozenset({"SETTINGS_MODULE"})
ADVICE_SETTING: Final = (
    "change settings with @override_settings / with override_settings(...) (django.test), "
    "the pytest-django `settings` fixture, or monkeypatch.setattr(settings, {name!r}, value); "
    "never assign settings.{name} directly in a test"
)
ADVICE_OVERRIDE: Final = (
    "override_settings(...).enable() needs a matching disable(): call it in tearDown or "
    "self.addCleanup(override.disable), or use override_settings as a decorator or context manager"
)
ADVICE_MIXED: Final = (
    "override_settings (a decorator or context manager) and pytest-django's settings fixture were mixed in one "
    "test: their teardowns ran out of order (the override ended before the fixture undid its own changes, and "
    "the fixture then put back the override's settings), which left them enabled; use one of the two per test"
)
OVERRIDE_CAUSE: Final = "django_settings:override_left_enabled"
_SETTINGS_FIXTURE_FILE: Final = os.path.join("pytest_django", "fixtures.py")
_MISSING: Final = object()
_Setter = Callable[[LazySettings, str, Any], None]
_Deleter = Callable[[LazySettings, str], None]


class _Snapshot(NamedTuple):
    wrapped: object
    values: dict[str, Any]


@register
class DjangoSettingsCheck:
    """Settings assigned or deleted through ``django.conf.settings`` and not restored."""

    name = "django_settings"

    def __init__(self) -> None:
        self._events = 0
        self._writes: dict[tuple[int, str], origin.RawStack] = {}
        self._originals: tuple[_Setter, _Deleter] | None = None
        self._hooks: tuple[_Setter, _Deleter] | None = None
        # LazySettings' own __dict__ (holds _wrapped), read past LazyObject.__getattribute__, which costs microseconds.
        self._lazy: dict[str, Any] = object.__getattribute__(settings, "__dict__")

    def start(self) -> None:
        setter, deleter = LazySettings.__setattr__, LazySettings.__delattr__
        self._originals = (setter, deleter)
        self._hooks = (self._setter(setter), self._deleter(deleter))
        LazySettings.__setattr__, LazySettings.__delattr__ = self._hooks

    def stop(self) -> None:
        # Put Django's methods back only if nobody wrapped ours in the meantime.
        if self._originals is None or self._hooks is None:
            return
        if LazySettings.__dict__["__setattr__"] is self._hooks[0]:
            LazySettings.__setattr__ = self._originals[0]
        if LazySettings.__dict__["__delattr__"] is self._hooks[1]:
            LazySettings.__delattr__ = self._originals[1]
        self._originals = self._hooks = None

    def fingerprint(self, sweep: bool) -> Hashable:
        wrapped = self._lazy.get(WRAPPED)
        if not sweep:
            return self._events, id(wrapped)
        return self._events, id(wrapped), tuple(map(id, vars(wrapped).values()))

    def capture(self) -> _Snapshot:
        wrapped = self._lazy.get(WRAPPED)
        values = _values(wrapped)
        self._forget_other_targets(wrapped)
        return _Snapshot(wrapped, values)

    def diff(self, baseline: _Snapshot, current: _Snapshot) -> list[Change]:
        changes = []
        override_left = current.wrapped is not baseline.wrapped
        if override_left:
            changes.append(self._override_left(current.wrapped))
        for name in sorted(baseline.values.keys() | current.values.keys()):
            before = baseline.values.get(name, _MISSING)
            after = current.values.get(name, _MISSING)
            if not _same(before, after):
                changed = self._changed(name, before, after, current.wrapped)
                changes.append(changed._replace(cause=OVERRIDE_CAUSE) if override_left else changed)
        return changes

    def _setter(self, original: _Setter) -> _Setter:
        record = self._record

        def __setattr__(lazy: LazySettings, name: str, value: Any) -> None:
            record(lazy, name)
            original(lazy, name, value)

        return _as_lazy_settings_code(__setattr__)

    def _deleter(self, original: _Deleter) -> _Deleter:
        def __delattr__(lazy: LazySettings, name: str) -> None:
            self._record(lazy, name)
            original(lazy, name)

        return __delattr__

    def _record(self, lazy: LazySettings, name: str) -> None:
        # Only the stack is taken here (code objects and offsets); lines are looked up if a leak is reported.
        self._events += 1
        target = 0 if name == WRAPPED else id(lazy.__dict__.get(WRAPPED))
        self._writes[(target, name)] = origin.raw_stack(sys._getframe(2), depth=32)

    def _forget_other_targets(self, wrapped: object) -> None:
        # Writes to an override that is gone can no longer be reported: keep the ledger small.
        keep = {0, id(wrapped)}
        for key in [key for key in self._writes if key[0] not in keep]:
            del self._writes[key]

    def _override_left(self, wrapped: object) -> Change:
        return Change(
            key="settings._wrapped",
            token=id(wrapped),
            summary="override_settings enabled and never disabled: settings are still the override's",
            before="the project's settings",
            after=type(wrapped).__name__,
            advice=ADVICE_MIXED if _by_the_settings_fixture(self._writes.get((0, WRAPPED))) else ADVICE_OVERRIDE,
            details={"change": "override_left_enabled"},
            origin=self._origin(0, WRAPPED),
            cause=OVERRIDE_CAUSE,  # the settings the override holds are one finding with it
        )

    def _changed(self, name: str, before: Any, after: Any, wrapped: object) -> Change:
        change = "added" if before is _MISSING else "deleted" if after is _MISSING else "changed"
        shown_after = None if after is _MISSING else short_repr(after)
        return Change(
            key=name,
            token=shown_after,
            summary=f"setting {name} {change}" + (f" to {shown_after}" if change != "deleted" else ""),
            before=None if before is _MISSING else short_repr(before),
            after=shown_after,
            advice=ADVICE_SETTING.format(name=name),
            details={"change": change, "setting": name},
            subjects=(name,),
            origin=self._origin(id(wrapped), name) or self._origin(0, WRAPPED),
        )

    def _origin(self, target: int, name: str) -> tuple[origin.Frame, ...]:
        stack = self._writes.get((target, name))
        return origin.user_frames_of(stack) if stack else ()


def _values(wrapped: object) -> dict[str, Any]:
    """Every setting `wrapped` holds, as ``getattr()`` reads it.

    Django's ``Settings`` and a chain of override holders on it are read from their namespaces, without ``dir()``
    and the holders' ``__getattr__`` (a holder hides the names in its ``_deleted`` and puts its own over its
    ``default_settings``); any other object through ``dir()`` and ``getattr()``.
    """
    holders = []
    while type(wrapped) is UserSettingsHolder:
        holders.append(vars(wrapped))
        wrapped = holders[-1]["default_settings"]
    if type(wrapped) is not Settings:
        names = (name for name in dir(wrapped) if name.isupper() and name not in NOT_SETTINGS)
        values = {name: getattr(wrapped, name) for name in names}
    else:
        values = {name: value for name, value in vars(wrapped).items() if name.isupper() and name not in NOT_SETTINGS}
    for namespace in reversed(holders):
        for name in namespace["_deleted"]:
            values.pop(name, None)
        values.update((n, v) for n, v in namespace.items() if n.isupper() and n not in NOT_SETTINGS)
    return values


def _by_the_settings_fixture(stack: origin.RawStack | None) -> bool:
    """Whether pytest-django's ``settings`` fixture, undoing its overrides, made the last switch of settings."""
    return any(code.co_filename.endswith(_SETTINGS_FIXTURE_FILE) for code, _ in stack or ())


def _same(before: Any, after: Any) -> bool:
    if before is after:
        return True
    if before is _MISSING or after is _MISSING or type(before) is not type(after):
        return False
    try:
        return bool(before == after)
    except Exception:  # noqa: BLE001 - a value whose __eq__ raises is compared by identity only
        return False


def short_repr(value: Any, width: int = 80) -> str:
    """``repr(value)`` cut to `width` characters; never raises."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break the check
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= width else text[: width - 3] + "..."


def _as_lazy_settings_code(hook: _Setter) -> _Setter:
    """`hook` as Django's deprecation helpers see it: a frame of ``django.conf.LazySettings.__setattr__``.

    Django 6.1 warns about a deprecated setting (``EMAIL_BACKEND``) written
    from outside Django by naming the first frame past ``LazySettings``; the
    hook's own frame would be taken for that caller, so that Django's own
    writes (``setup_test_environment``) would warn. The hook reads only its
    closure, so its globals can be a module name and the builtins.
    """
    code = hook.__code__
    if hasattr(code, "co_qualname"):  # Python 3.11+; Django versions that warn this way need it
        code = code.replace(co_qualname="LazySettings.__setattr__")
    namespace = {"__name__": "django.conf", "__builtins__": builtins}
    return FunctionType(code, namespace, hook.__name__, hook.__defaults__, hook.__closure__)  # type: ignore[return-value]
