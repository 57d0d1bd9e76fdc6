"""``locale_state``: C library locale categories a test set with ``locale.setlocale`` and did not restore.

``locale.setlocale(locale.LC_ALL, "de_DE.UTF-8")`` changes number and date
formatting (``locale.format_string``, ``time.strftime``, ``str.lower`` of
``LC_CTYPE`` in C extensions) for the rest of the process; CPython's regrtest
compares every category. The key is the category's name (``LC_NUMERIC``).
Which code called ``setlocale`` is not recorded: reading a category is a call
of ``setlocale`` itself, so wrapping it cannot tell reads from writes cheaply.
"""

from __future__ import annotations

import _locale
import locale
from collections.abc import Hashable
from typing import Final

from django_isolation.checks import Change, register

CATEGORIES: Final = tuple(
    (name, getattr(locale, name))
    for name in ("LC_CTYPE", "LC_COLLATE", "LC_TIME", "LC_MONETARY", "LC_NUMERIC", "LC_MESSAGES")
    if hasattr(locale, name)  # LC_MESSAGES does not exist on Windows
)
ADVICE: Final = (
    "save old = locale.setlocale(locale.{name}) first and restore it with self.addCleanup(locale.setlocale, "
    "locale.{name}, old) or try/finally (a fixture that does both)"
)
Locale = tuple[tuple[str, str], ...]


@register
class LocaleCheck:
    """Every ``locale`` category compared with its setting before the tests."""

    name = "locale_state"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        # One query: LC_ALL names every category ("LC_CTYPE=...;LC_NUMERIC=...") as soon as they differ. The C
        # function itself: locale.setlocale() is a Python wrapper around it.
        return _locale.setlocale(locale.LC_ALL, None)

    def capture(self) -> Locale:
        return tuple((name, locale.setlocale(category)) for name, category in CATEGORIES)

    def diff(self, baseline: Locale, current: Locale) -> list[Change]:
        before = dict(baseline)
        return [
            Change(
                key=name,
                token=value,
                summary=f"locale category {name} changed from {before.get(name)!r} to {value!r}",
                before=before.get(name),
                after=value,
                advice=ADVICE.format(name=name),
                details={"change": "changed", "category": name},
            )
            for name, value in current
            if before.get(name) != value
        ]
