"""``environ``: environment variables a test set, changed or deleted and did not restore.

A variable set in a test (``os.environ["FEATURE_X"] = "1"``) is read by every
later test and by settings code that consults the environment, in the
processes that ran the writer first. Like CPython's regrtest (``os.environ``
in ``saved_test_environment``) the whole mapping is compared; the key of a
finding is the variable's name, so ``environ:CI_*`` allows a family.

Where a variable was written is not known: ``os.environ`` is a ``MutableMapping``
that C code and ``putenv`` bypass, and swapping it for a recording subclass
would change what tests see, so no stack is kept. ``PYTEST_CURRENT_TEST`` (set
by pytest around each test phase) is ignored. Values of variables whose names
look like secrets are masked in the report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final

from django_isolation.checks import Change, register

IGNORED: Final = frozenset({"PYTEST_CURRENT_TEST"})
ADVICE: Final = (
    "use monkeypatch.setenv/delenv (pytest), mock.patch.dict(os.environ, {{...}}) as a decorator or context "
    "manager, or self.addCleanup to put {name} back"
)
_SECRET: Final = re.compile(r"KEY|TOKEN|SECRET|PASS|AUTH|CREDENTIAL|PRIVATE", re.IGNORECASE)
_MAX_SHOWN: Final = 120
Environ = dict[str, str]


@register
class EnvironCheck:
    """Variables of ``os.environ`` added, changed or removed and not restored."""

    name = "environ"

    def __init__(self) -> None:
        self._writes = 0
        self._originals: dict[str, Callable[..., Any]] = {}
        self._hooks: dict[str, Callable[..., Any]] = {}

    def start(self) -> None:
        """Count writes through ``os.environ`` (and ``os.environb``), whose class is wrapped, not changed."""
        kind = type(os.environ)
        for name in ("__setitem__", "__delitem__"):
            original = self._originals[name] = kind.__dict__[name]
            self._hooks[name] = self._counting(original)
            setattr(kind, name, self._hooks[name])

    def stop(self) -> None:
        kind = type(os.environ)
        for name, hook in self._hooks.items():
            if kind.__dict__.get(name) is hook:  # nobody wrapped ours in the meantime
                setattr(kind, name, self._originals[name])
        self._originals, self._hooks = {}, {}

    def _counting(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def write(environ: Any, key: Any, *value: Any) -> Any:
            if key not in IGNORED:
                self._writes += 1
            return original(environ, key, *value)

        return write

    def fingerprint(self, sweep: bool) -> Hashable:
        if not sweep:
            return self._writes
        # And where a module ends, what a write past os.environ's class would change (its plain dict of items).
        data: Mapping[Any, Any] = getattr(os.environ, "_data", os.environ)
        return self._writes, tuple(data), tuple(data.values())

    def capture(self) -> Environ:
        return {name: value for name, value in os.environ.items() if name not in IGNORED}

    def diff(self, baseline: Environ, current: Environ) -> list[Change]:
        changes = [_change(name, value, None) for name, value in baseline.items() if name not in current]
        changes += [
            _change(name, baseline.get(name), value) for name, value in current.items() if baseline.get(name) != value
        ]
        return changes


TZ_CAUSE: Final = "timezone:TZ"


def _change(name: str, before: str | None, after: str | None) -> Change:
    kind = "added" if before is None else "removed" if after is None else "changed"
    shown_before, shown_after = _shown(name, before), _shown(name, after)
    if kind == "added":
        summary = f"environment variable {name} set to {shown_after}"
    elif kind == "removed":
        summary = f"environment variable {name} deleted (was {shown_before})"
    else:
        summary = f"environment variable {name} changed from {shown_before} to {shown_after}"
    return Change(
        key=name,
        token=after,
        summary=summary,
        before=shown_before,
        after=shown_after,
        advice=ADVICE.format(name=name),
        details={"change": kind, "variable": name},
        subjects=(name,),
        cause=TZ_CAUSE if name == "TZ" else None,  # the timezone check's process time zone, when it runs
    )


def _shown(name: str, value: str | None) -> str | None:
    """The value as the report shows it: quoted, shortened, masked when the name looks like a secret."""
    if value is None:
        return None
    if _SECRET.search(name):
        return "'***'"
    shown = repr(value)
    return shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 3] + "..."
