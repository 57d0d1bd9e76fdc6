"""``warnings_filters``: warning filters a test added, removed or reordered, and ``warnings.showwarning``
replaced, left that way.

``warnings.simplefilter("ignore")`` in a test silences every later test's
``assertWarns`` and hides deprecations; ``simplefilter("error")`` turns a
harmless warning into a failure of whichever test runs next (CPython's regrtest
compares ``warnings.filters`` and ``showwarning`` too). The key of a filter is
its ``-W`` form (``ignore::DeprecationWarning``, ``error:msg:UserWarning:mod:12``);
of the display function, ``showwarning``.

The runners' own contexts are not the tests': pytest runs every test inside a
``warnings.catch_warnings()`` of its own (with its ``filterwarnings``
settings) and restores the filters after it, so under pytest the state
compared is the one saved by that context (what survives the test); unittest's
``TextTestRunner.run`` (used by ``manage.py test``) adds its ``default``
filters inside a context around the whole run, which becomes the reference.
``catch_warnings.__enter__``/``__exit__`` are wrapped (at class level, while
the check is on) to recognise those contexts by the function that enters
them. Which code added a filter is not recorded.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final, Literal, NamedTuple

from django_isolation.checks import Change, ordered_changes, register

SHOWWARNING_KEY: Final = "showwarning"
Role = Literal["test", "run"]
# Who enters a runner's catch_warnings (directory, function) and what it spans.
RUNNER_CONTEXTS: Final[tuple[tuple[str, str, Role], ...]] = (
    (os.path.join("_pytest", ""), "_catch_configured_warnings", "test"),  # pytest >= 8.4
    (os.path.join("_pytest", "warnings.py"), "catch_warnings_for_item", "test"),  # older pytest
    (os.path.join("unittest", "runner.py"), "run", "run"),
)
ADVICE: Final = (
    "change warning filters only inside `with warnings.catch_warnings():` (or use self.assertWarns, "
    "pytest.warns, @pytest.mark.filterwarnings); never call warnings.simplefilter/filterwarnings or "
    "replace warnings.showwarning at the top level of a test"
)


class Filters(NamedTuple):
    filters: tuple[str, ...]
    showwarning: str
    showwarning_id: int


@register
class WarningsFiltersCheck:
    """``warnings.filters`` and ``warnings.showwarning`` compared with the runner's reference."""

    name = "warnings_filters"

    def __init__(self) -> None:
        self._per_test: list[warnings.catch_warnings] = []
        self._runs: list[warnings.catch_warnings] = []
        self._rebase = False
        self._reference: Filters | None = None
        self._originals: tuple[Callable[..., Any], Callable[..., Any]] | None = None
        self._hooks: tuple[Callable[..., Any], Callable[..., Any]] | None = None

    def prepare(self) -> None:
        """Recognise the runner's contexts from now on: pytest enters the first test's before the baseline."""
        if self._hooks is not None:
            return
        cls = warnings.catch_warnings
        enter, leave = cls.__enter__, cls.__exit__
        per_test, runs = self._per_test, self._runs

        def __enter__(context: warnings.catch_warnings) -> Any:
            result = enter(context)
            role = _runner_role(sys._getframe(1).f_code.co_filename, sys._getframe(1).f_code.co_name)
            if role == "test":
                per_test.append(context)
            elif role == "run":
                runs.append(context)
                self._rebase = True  # what the runner sets up next is the reference
            return result

        def __exit__(context: warnings.catch_warnings, *exc_info: Any) -> Any:
            per_test[:] = [open_ for open_ in per_test if open_ is not context]
            if any(open_ is context for open_ in runs):
                runs[:] = [open_ for open_ in runs if open_ is not context]
                self._reference, self._rebase = None, False  # back to the state before the run
            return leave(context, *exc_info)

        self._originals, self._hooks = (enter, leave), (__enter__, __exit__)
        cls.__enter__, cls.__exit__ = __enter__, __exit__  # type: ignore[method-assign]

    def start(self) -> None:
        self.prepare()

    def stop(self) -> None:
        # Put warnings' methods back only if nobody wrapped ours in the meantime.
        cls = warnings.catch_warnings
        if self._originals is not None and self._hooks is not None and cls.__dict__["__enter__"] is self._hooks[0]:
            cls.__enter__, cls.__exit__ = self._originals  # type: ignore[method-assign]
        self._originals = self._hooks = None

    def fingerprint(self, sweep: bool) -> Hashable:
        if self._rebase:
            self._rebase = False
            self._reference = self.capture()
        filters, showwarning = self._effective()
        return tuple(filters), id(showwarning)

    def capture(self) -> Filters:
        filters, showwarning = self._effective()
        return Filters(tuple(map(_filter_key, filters)), _name(showwarning), id(showwarning))

    def diff(self, baseline: Filters, current: Filters) -> list[Change]:
        reference = self._reference or baseline
        changes = ordered_changes(reference.filters, current.filters, _change, "warning filters", ADVICE)
        if current.showwarning_id != reference.showwarning_id:
            changes.append(
                Change(
                    key=SHOWWARNING_KEY,
                    token=current.showwarning_id,
                    summary=f"warnings.showwarning replaced: {reference.showwarning} -> {current.showwarning}",
                    before=reference.showwarning,
                    after=current.showwarning,
                    advice=ADVICE,
                    details={"change": "showwarning"},
                )
            )
        return changes

    def _effective(self) -> tuple[Sequence[Any], Any]:
        """The filters and display function that will be in force after the runner's per-test context."""
        if self._per_test:
            context = self._per_test[0]
            filters = getattr(context, "_filters", warnings.filters)
            return filters, getattr(context, "_showwarning", warnings.showwarning)
        return warnings.filters, warnings.showwarning


def _runner_role(filename: str, function: str) -> Role | None:
    for where, name, role in RUNNER_CONTEXTS:
        if function == name and where in filename:
            return role
    return None


def _change(key: str, kind: str) -> Change:
    added = kind == "added"
    return Change(
        key=key,
        token=kind,
        summary=f"warning filter {key!r} {kind}",
        before=None if added else key,
        after=key if added else None,
        advice=ADVICE,
        details={"change": kind, "filter": key},
    )


def _filter_key(entry: Any) -> str:
    """A filter as ``-W`` writes it: action:message:category:module:lineno (empty parts dropped at the end)."""
    action, message, category, module, lineno = entry
    parts = [
        action,
        getattr(message, "pattern", message) or "",
        _name(category) if category is not Warning else "Warning",
        getattr(module, "pattern", module) or "",
        str(lineno or ""),
    ]
    while parts and not parts[-1]:
        parts.pop()
    return ":".join(parts)


def _name(thing: Any) -> str:
    module = getattr(thing, "__module__", None)
    qualname = getattr(thing, "__qualname__", repr(thing))
    return qualname if module in (None, "builtins", "warnings") else f"{module}.{qualname}"
