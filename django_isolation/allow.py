"""Allowing leaks on purpose: a test that sets global state deliberately (a *state-setter*) says so.

A pattern is a check name (``django_settings``: any of its findings) or
``CHECK:KEY-GLOB`` (``environ:CI_*``), matched against a finding's check and
the key of the state item (see each check's page for its keys)::

    from django_isolation import isolation_allow

    @isolation_allow("django_settings:LOGGING", "module_attributes")
    def test_configures_logging_for_the_session(): ...

The same patterns go to ``@pytest.mark.isolation_allow(...)``, or to the whole
run with ``--isolation-allow`` / ``DJANGO_ISOLATION_ALLOW``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from fnmatch import fnmatchcase
from functools import cache
from types import MethodType
from typing import Any, Final, TypeVar

ATTRIBUTE: Final = "__isolation_allow__"
MARKER: Final = "isolation_allow"
Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def isolation_allow(*patterns: str) -> Callable[[Decorated], Decorated]:
    """Decorate a test function, method or class whose leaks matching `patterns` are deliberate."""

    def decorate(target: Decorated) -> Decorated:
        setattr(target, ATTRIBUTE, (*getattr(target, ATTRIBUTE, ()), *patterns))
        return target

    return decorate


def patterns_of(*targets: object) -> tuple[str, ...]:
    """The patterns :func:`isolation_allow` put on `targets` (a test function or method, its class)."""
    return tuple(pattern for target in targets for pattern in _patterns(target))


def _patterns(target: object) -> tuple[str, ...]:
    """Read without ``getattr`` of a missing name, which raises (and costs) inside: this runs for every test."""
    if isinstance(target, type):
        return _class_patterns(target)
    function = target.__func__ if isinstance(target, MethodType) else target
    namespace = getattr(function, "__dict__", None)
    return tuple(namespace.get(ATTRIBUTE, ())) if isinstance(namespace, dict) else ()


@cache
def _class_patterns(cls: type) -> tuple[str, ...]:
    """A class's patterns, its bases' included (set when the class is defined)."""
    return tuple(getattr(cls, ATTRIBUTE, ()))


class Deferred:
    """A scope's patterns, read when a leak of it is judged: a clean test never pays for reading its marks."""

    __slots__ = ("_patterns", "_read")

    def __init__(self, read: Callable[[], tuple[str, ...]]) -> None:
        self._read: Callable[[], tuple[str, ...]] | None = read
        self._patterns: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[str]:
        if self._read is not None:
            self._patterns, self._read = self._read(), None
        return iter(self._patterns)


def split(text: str | None) -> tuple[str, ...]:
    """Patterns from a comma-separated option value."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def matching(patterns: Iterable[str], check: str, key: str) -> str | None:
    """The first of `patterns` that allows the state item `key` of `check`, or None."""
    for pattern in patterns:
        name, _, glob = pattern.partition(":")
        if name == check and (not glob or fnmatchcase(key, glob)):
            return pattern
    return None
