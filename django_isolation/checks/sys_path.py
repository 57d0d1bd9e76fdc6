"""``sys_path``: entries a test added to, removed from or reordered in ``sys.path``.

An entry added by a test (``sys.path.insert(0, fixtures_dir)``) changes which
file every later ``import`` finds, and a shadowing module then wins only in the
processes that ran the writer first (CPython's regrtest compares ``sys.path``
too). Each entry is a finding keyed by the path itself; a new order of the same
entries is one finding keyed ``<order>``. pytest's own insertions (rootdir,
``conftest.py`` directories) happen at collection, before the baseline.
Which code wrote the list is not recorded: ``sys.path`` is a plain list.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
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

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        return tuple(sys.path)

    def capture(self) -> Path:
        return tuple(map(str, sys.path))

    def diff(self, baseline: Path, current: Path) -> list[Change]:
        return ordered_changes(baseline, current, _change, "sys.path entries", ADVICE)


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
