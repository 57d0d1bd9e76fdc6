"""``sys_path``: entries a test added to, removed from or reordered in ``sys.path``.

An entry added by a test (``sys.path.insert(0, fixtures_dir)``) changes which
file every later ``import`` finds, and a shadowing module then wins only in the
processes that ran the writer first (CPython's regrtest compares ``sys.path``
too). Each entry is a finding keyed by the path itself; a new order of the same
entries is one finding keyed ``<order>``. pytest's own insertions (rootdir,
``conftest.py`` directories) happen at collection, before the baseline.
Which code wrote the list is not recorded: ``sys.path`` is a plain list. An
entry added in the interval in which a module under it was first imported is a
first-time initialisation, not a leak: pytest 9 inserting a rootdir-less
package's root while it sets up that package's first test (a root above the
module), a library adding its own directory or one inside it when first
imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Hashable
from types import ModuleType
from typing import Final

from django_isolation.checks import Change, ordered_changes, register

ADVICE: Final = (
    "use monkeypatch.syspath_prepend(path) (pytest), mock.patch.object(sys, 'path', [path, *sys.path]) "
    "as a context manager, or self.addCleanup(sys.path.remove, path) right after inserting it"
)
Path = tuple[str, ...]


@register
class SysPathCheck:
    """``sys.path`` compared entry by entry with the one before the tests."""

    name = "sys_path"

    def __init__(self) -> None:
        self._imported: set[str] = set()  # sys.modules names as of the last capture
        self._last: Path = ()
        self._first_use: set[str] = set()  # entries added with the first import of a module under them

    def start(self) -> None:
        self._imported = set(sys.modules)

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        return tuple(sys.path)

    def capture(self) -> Path:
        current = tuple(map(str, sys.path))
        added = [entry for entry in current if entry not in self._last]
        first_imports = [module for name, module in list(sys.modules.items()) if name not in self._imported]
        self._imported.update(sys.modules)
        folders = [os.path.join(os.path.dirname(file), "") for file in map(_file, first_imports) if file]
        for entry in added:
            inside = os.path.join(os.path.abspath(entry or os.curdir), "")
            if any(folder.startswith(inside) or inside.startswith(folder) for folder in folders):
                self._first_use.add(entry)  # the root it was imported from, or its own (vendored) directory
        self._last = current
        return current

    def diff(self, baseline: Path, current: Path) -> list[Change]:
        changes = ordered_changes(baseline, current, _change, "sys.path entries", ADVICE)
        return [change for change in changes if not (change.token == "added" and change.key in self._first_use)]


def _file(module: object) -> str | None:
    path = vars(module).get("__file__") if issubclass(type(module), ModuleType) else None
    return os.path.abspath(path) if isinstance(path, str) else None


def _change(entry: str, kind: str) -> Change:
    added = kind == "added"
    return Change(
        key=entry,
        token=kind,
        summary=f"sys.path entry {entry!r} {kind}",
        before=None if added else entry,
        after=entry if added else None,
        advice=ADVICE,
        details={"change": kind, "entry": entry},
    )
