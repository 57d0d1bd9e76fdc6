"""``import_hooks``: import hooks a test installed in (or removed from) ``sys.meta_path``, ``sys.path_hooks``
or ``sys.path_importer_cache`` and did not take out.

A finder left in ``sys.meta_path`` (a fake module server, a freezegun-style
import interceptor, a hand-made "mock this package" hook) answers every later
``import``; a path hook changes how new directories are read; a finder object
put straight into ``sys.path_importer_cache`` serves one directory. CPython's
regrtest compares ``sys.path_hooks`` and the import machinery the same way.
Hooks are named by their class (``scenario.hooks.FakeFinder``); the key is
``meta_path:NAME``, ``path_hooks:NAME`` or ``path_importer_cache:PATH``.
The cache grows during every late import (one entry per new directory, by the
hooks already there): only entries whose finder class no baseline entry has
are reported. Which code installed a hook is not recorded (plain lists).
"""

from __future__ import annotations

import sys
import types
from collections import Counter
from collections.abc import Hashable
from typing import Final, NamedTuple

from django_isolation.checks import Change, register

ADVICE: Final = (
    "take the hook out when the test ends: self.addCleanup(sys.{where}.remove, hook), a try/finally, "
    "or mock.patch.object(sys, {where!r}, [hook, *sys.{where}]) as a context manager; "
    "monkeypatch.setattr(sys, {where!r}, [...]) under pytest"
)
ADVICE_CACHE: Final = (
    "remove the entry the test put in sys.path_importer_cache (or call importlib.invalidate_caches() and "
    "del sys.path_importer_cache[path] in a cleanup); mock.patch.dict(sys.path_importer_cache, ...) restores it"
)


class Hooks(NamedTuple):
    meta_path: Counter[str]
    path_hooks: Counter[str]
    cache: dict[str, str]  # directory -> finder class, for entries that hold a finder


@register
class ImportHooksCheck:
    """``sys.meta_path`` and ``sys.path_hooks`` entries, and foreign finders in ``sys.path_importer_cache``."""

    name = "import_hooks"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        # The hooks themselves (compared by identity); the cache by size (it grows on late imports).
        return tuple(sys.meta_path), tuple(sys.path_hooks), len(sys.path_importer_cache)

    def capture(self) -> Hooks:
        cache = {str(path): _name(finder) for path, finder in list(sys.path_importer_cache.items()) if finder}
        return Hooks(Counter(map(_name, sys.meta_path)), Counter(map(_name, sys.path_hooks)), cache)

    def diff(self, baseline: Hooks, current: Hooks) -> list[Change]:
        changes = _hook_changes("meta_path", baseline.meta_path, current.meta_path)
        changes += _hook_changes("path_hooks", baseline.path_hooks, current.path_hooks)
        known = set(baseline.cache.values())
        changes += [
            Change(
                key=f"path_importer_cache:{path}",
                token=finder,
                summary=f"finder {finder} put in sys.path_importer_cache for {path}",
                before=baseline.cache.get(path),
                after=finder,
                advice=ADVICE_CACHE,
                details={"change": "added", "where": "path_importer_cache", "hook": finder, "path": path},
            )
            for path, finder in current.cache.items()
            if finder not in known
        ]
        return changes


def _hook_changes(where: str, before: Counter[str], after: Counter[str]) -> list[Change]:
    changes = []
    for hook in dict.fromkeys([*before, *after]):
        was, now = before[hook], after[hook]
        if was == now:
            continue
        kind = "added" if now > was else "removed"
        changes.append(
            Change(
                key=f"{where}:{hook}",
                token=now,
                summary=f"import hook {hook} {kind} {'to' if kind == 'added' else 'from'} sys.{where}"
                + (f" ({was} -> {now} entries)" if was and now else ""),
                before=f"{was} x {hook}",
                after=f"{now} x {hook}",
                advice=ADVICE.format(where=where),
                details={"change": kind, "where": where, "hook": hook, "count_before": was, "count_after": now},
            )
        )
    return changes


def _name(hook: object) -> str:
    """A hook's dotted name: its function, the class itself (BuiltinImporter), or the class of the instance."""
    if isinstance(hook, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"{hook.__module__}.{hook.__qualname__}"  # a path hook given as a function
    cls = hook if isinstance(hook, type) else type(hook)
    return f"{cls.__module__}.{cls.__qualname__}"
