"""``cwd``: the current working directory a test changed and did not change back.

``os.chdir`` in a test moves every later test: relative paths in fixtures,
``open("data.json")``, ``call_command`` output files and ``manage.py`` lookups
then resolve elsewhere, only when the writer ran first (CPython's regrtest
compares it too). A directory that was deleted while it was current is
reported as such. Which code called ``os.chdir`` is not recorded: wrapping the
``os`` function would not see code that did ``from os import chdir``.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import Final

from django_isolation.checks import Change, register

KEY: Final = "cwd"
DELETED: Final = "<deleted directory>"
ADVICE: Final = (
    "use monkeypatch.chdir(path) (pytest), contextlib.chdir(path) (Python 3.11+) as a context manager, "
    "or save os.getcwd() and self.addCleanup(os.chdir, saved) before os.chdir"
)


@register
class CwdCheck:
    """The process's current directory, compared with the one before the tests."""

    name = "cwd"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        return _cwd()

    def capture(self) -> str:
        return _cwd()

    def diff(self, baseline: str, current: str) -> list[Change]:
        if current == baseline:
            return []
        return [
            Change(
                key=KEY,
                token=current,
                summary=f"working directory changed from {baseline} to {current}",
                before=baseline,
                after=current,
                advice=ADVICE,
                details={"change": "deleted" if current == DELETED else "changed"},
            )
        ]


def _cwd() -> str:
    try:
        return os.getcwd()
    except FileNotFoundError:  # the test removed the directory it was in
        return DELETED
