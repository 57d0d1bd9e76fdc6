"""The unittest side of the Django front: a suite that marks test, class and module boundaries.

Imported by :class:`django_isolation.runner.IsolationRunner` only when the checks are on.
"""

from __future__ import annotations

import functools
import unittest
from typing import Any

from django_isolation import allow
from django_isolation.engine import Engine, IsolationLeak, Scope
from django_isolation.evidence import Failure


class ScopeError:
    """Stands for a class or module in ``result.addError`` (as unittest's ``_ErrorHolder`` does)."""

    failureException = None

    def __init__(self, scope_id: str) -> None:
        self._id = f"isolation leak ({scope_id})"

    def id(self) -> str:
        return self._id

    def shortDescription(self) -> None:
        return None

    def __str__(self) -> str:
        return self._id


_FAILING_EVENTS = frozenset({"addError", "addFailure", "addUnexpectedSuccess"})


def _failure_count(result: unittest.TestResult) -> int:
    events = getattr(result, "events", None)  # a --parallel worker's RemoteTestResult keeps no failure lists
    if isinstance(events, list):
        return sum(1 for event in events if event[0] in _FAILING_EVENTS or event[0] == "addSubTest" and event[-1])
    return len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)


class IsolationFront:
    """Turns the suite's class/module/test boundaries into engine calls."""

    def __init__(self, engine: Engine, fail: bool) -> None:
        self.engine = engine
        self.fail = fail
        self.leak_errors = 0
        self._test: unittest.TestCase | None = None
        self._test_scope: Scope | None = None
        self._failures_before = 0
        self._class: type | None = None
        self._module: str | None = None
        self._error: BaseException | None = None
        self._watched_results: set[int] = set()

    @property
    def current_test(self) -> str | None:
        """The id of the test running now, if one is."""
        return self._test_scope.id if self._test_scope else None

    def test_started(self, test: unittest.TestCase, result: unittest.TestResult) -> None:
        patterns = allow.Deferred(functools.partial(_test_patterns, test))
        self._test, self._test_scope = test, Scope(test.id(), "test", allow=patterns)
        self.engine.test_started(self._test_scope.id, type(test).__module__)
        self._failures_before = _failure_count(result)
        self._error = None
        self._watch_errors(result)

    def test_ended(self, result: unittest.TestResult) -> None:
        if self._test is None or self._test_scope is None:
            return
        test, scope, self._test, self._test_scope = self._test, self._test_scope, None, None
        if _failure_count(result) > self._failures_before:
            self.engine.test_failed(scope.id, Failure.of(self._error))
        self._judge(scope, test, result)

    def _watch_errors(self, result: unittest.TestResult) -> None:
        """Keep the exception of the running test's first error or failure (the result keeps only its text)."""
        if id(result) in self._watched_results:
            return
        self._watched_results.add(id(result))
        for name in ("addError", "addFailure"):
            setattr(result, name, self._keeping_error(getattr(result, name)))

    def _keeping_error(self, add: Any) -> Any:
        def keep(test: Any, err: Any) -> Any:
            if self._error is None and isinstance(err, tuple) and len(err) == 3:
                self._error = err[1]
            return add(test, err)

        return keep

    def class_set_up(self, test: unittest.TestCase) -> None:
        if test.__class__ is not self._class:
            self._class = test.__class__
            self.engine.checkpoint(_class_scope(self._class))

    def class_torn_down(self, test: unittest.TestCase | None, result: unittest.TestResult) -> None:
        if self._class is not None and test.__class__ is not self._class:
            scope = _class_scope(self._class)
            self._judge(scope, ScopeError(scope.id), result)

    def module_set_up(self, test: unittest.TestCase) -> None:
        module = test.__class__.__module__
        if module != self._module:
            self._module = module
            self.engine.checkpoint(Scope(module, "module", "setUpModule"))

    def module_torn_down(self, result: unittest.TestResult) -> None:
        if self._module is not None:
            scope = Scope(self._module, "module", "setUpModule")
            self._module = None  # under --parallel, a worker may run another class of it: set up again
            self._judge(scope, ScopeError(scope.id), result)

    def _judge(self, scope: Scope, culprit: Any, result: unittest.TestResult) -> None:
        leaks = self.engine.end_scope(scope)
        if leaks and self.fail:
            # No traceback: the leak is the message; unittest prints "IsolationLeak: ..." alone.
            result.addError(culprit, (IsolationLeak, IsolationLeak.of(leaks), None))  # type: ignore[arg-type]
            self.leak_errors += 1


def _test_patterns(test: unittest.TestCase) -> tuple[str, ...]:
    """The allow patterns of `test`'s method and class."""
    return allow.patterns_of(getattr(test, getattr(test, "_testMethodName", ""), None), type(test))


def _class_scope(cls: type) -> Scope:
    return Scope(f"{cls.__module__}.{cls.__qualname__}", "class", "setUpClass", allow=allow.patterns_of(cls))


class IsolationSuite(unittest.TestSuite):
    """A flat suite that reports test, class and module boundaries to the isolation front.

    It overrides unittest's private fixture steps (stable since Python 2.7),
    which ``TestSuite.run`` calls right before each test and once at the end.
    """

    front: IsolationFront | None = None

    def _tearDownPreviousClass(self, test: Any, result: unittest.TestResult) -> None:
        if self.front:
            self.front.test_ended(result)
        super()._tearDownPreviousClass(test, result)  # type: ignore[misc]
        if self.front:
            self.front.class_torn_down(test, result)

    def _handleModuleTearDown(self, result: unittest.TestResult) -> None:
        super()._handleModuleTearDown(result)  # type: ignore[misc]
        if self.front:
            self.front.module_torn_down(result)

    def _handleModuleFixture(self, test: Any, result: unittest.TestResult) -> None:
        super()._handleModuleFixture(test, result)  # type: ignore[misc]
        if self.front:
            self.front.module_set_up(test)

    def _handleClassSetUp(self, test: Any, result: unittest.TestResult) -> None:
        super()._handleClassSetUp(test, result)  # type: ignore[misc]
        if not self.front:
            return
        self.front.class_set_up(test)
        if not (getattr(test.__class__, "_classSetupFailed", False) or getattr(result, "_moduleSetUpFailed", False)):
            self.front.test_started(test, result)
