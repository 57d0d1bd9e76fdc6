"""Evidence that a failed test came near a leaked state: what links a victim to a polluter.

A failed test is linked to a leak that was live when it started only on
evidence, and its suspects are listed strongest evidence first:

* :data:`NAMED` (strongest): the failure's message, or code its traceback
  ran, names the state: a setting, a table, a global, a cache key. Each
  :class:`~django_isolation.checks.Change` lists such names as its
  ``subjects``; a dotted name (``PythonVersion.value``) needs both of its
  last two names in one code object, any other text (a path, a cache key) is
  matched whole;
* :data:`TOUCHED`: while the test ran, the check saw it come near the state
  (queried the table, ran code that reads the replaced global, resolved the
  models of the leaked app, sent the signal). A check that watches this
  implements ``evidence(change, failure)``.

A failure near none of the live leaks is reported as such: no watched state
explains it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from types import CodeType, TracebackType
from typing import Final, NamedTuple

from django_isolation import origin

NAMED: Final = 0
TOUCHED: Final = 1
MAX_CHAINED: Final = 5  # __cause__ / __context__ links followed


class Evidence(NamedTuple):
    """Why a failed test is linked to a leak; a lower `rank` is stronger."""

    rank: int
    text: str


class Failure(NamedTuple):
    """What a failed test raised: its message and the code its traceback ran (the project's code and the raiser)."""

    message: str
    codes: tuple[CodeType, ...]

    @classmethod
    def of(cls, error: BaseException | None) -> Failure:
        messages: list[str] = []
        codes: list[CodeType] = []
        seen: set[int] = set()
        while error is not None and id(error) not in seen and len(seen) < MAX_CHAINED:
            seen.add(id(error))
            messages.append(_message(error))
            codes += _traceback_codes(error.__traceback__)
            error = error.__cause__ or error.__context__
        return cls("\n".join(messages), tuple(dict.fromkeys(codes)))

    def naming(self, subjects: Iterable[str]) -> Evidence | None:
        """:data:`NAMED` evidence when the message or a traceback code names one of `subjects`."""
        for subject in subjects:
            parts = subject.split(".")
            wanted = parts[-2:] if all(part.isidentifier() for part in parts) else [subject]  # "avatars/a.png"
            if _mentions(self.message, ".".join(wanted)):
                return Evidence(NAMED, f"the failure's message names {subject}")
            for code in self.codes:
                if all(name in code_names(code) for name in wanted):
                    where = f"{origin.relative_path(code.co_filename)}:{code.co_firstlineno} in {code.co_name}"
                    return Evidence(NAMED, f"the failing code names {subject} ({where})")
        return None


def _message(error: BaseException) -> str:
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        return type(error).__name__


def _traceback_codes(traceback: TracebackType | None) -> list[CodeType]:
    """Code objects of the traceback's frames in the project's files, and of the frame that raised."""
    codes = []
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if origin.is_user_file(code.co_filename) or traceback.tb_next is None:
            codes.append(code)
        traceback = traceback.tb_next
    return codes


@lru_cache(maxsize=4096)
def code_names(code: CodeType) -> frozenset[str]:
    """The names `code` and the code nested in it use: globals, attributes, and string constants (keys, names)."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if type(constant) is str:
            names.add(constant)
        elif type(constant) is CodeType:
            names |= code_names(constant)
    return frozenset(names)


def _mentions(message: str, subject: str) -> bool:
    """`subject` appears in `message` as a whole name (any case: ``Create model AnalyticsModel``)."""
    pattern = rf"(?<![\w.]){re.escape(subject)}(?!\w)"
    return len(subject) > 2 and re.search(pattern, message, re.IGNORECASE) is not None
