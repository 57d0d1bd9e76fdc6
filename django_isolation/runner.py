"""The Django front: ``IsolationRunner``, a ``DiscoverRunner`` with the ``--isolation-*`` options.

Use it as ``TEST_RUNNER = "django_isolation.runner.IsolationRunner"`` or
``manage.py test --testrunner django_isolation.runner.IsolationRunner``, then::

    python manage.py test --isolation-check --isolation-report isolation.json

Without an ``--isolation-*`` option (or ``DJANGO_ISOLATION_*`` variable) it is
exactly ``DiscoverRunner``. With one, the suite is an :class:`IsolationSuite`,
which marks where each test and each class/module fixture begins and ends;
snapshots are taken there, where the tests actually run, rather than in a
result class that ``--pdb``, ``--debug-sql`` or ``--parallel`` would replace.
"""

from __future__ import annotations

import argparse
import os
import sys
import unittest
from typing import Any

from django.test.runner import DiscoverRunner

from django_isolation import checks
from django_isolation.engine import Engine, IsolationLeak, Scope
from django_isolation.options import EXIT_LEAKS_ONLY, OPTIONS, Settings, resolve
from django_isolation.report import TITLE, header, render_text, to_json, write_json


class _ScopeError:
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


def _failure_count(result: unittest.TestResult) -> int:
    return len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)


class _Front:
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

    def test_started(self, test: unittest.TestCase, result: unittest.TestResult) -> None:
        self._test, self._test_scope = test, Scope(test.id(), "test")
        self.engine.test_started(test.id())
        self._failures_before = _failure_count(result)

    def test_ended(self, result: unittest.TestResult) -> None:
        if self._test is None or self._test_scope is None:
            return
        test, scope, self._test, self._test_scope = self._test, self._test_scope, None, None
        self.engine.checkpoint(scope)
        if _failure_count(result) > self._failures_before:
            self.engine.test_failed(scope.id)
        self._judge(scope, test, result)

    def class_set_up(self, test: unittest.TestCase) -> None:
        if test.__class__ is not self._class:
            self._class = test.__class__
            self.engine.checkpoint(_class_scope(self._class))

    def class_torn_down(self, test: unittest.TestCase | None, result: unittest.TestResult) -> None:
        if self._class is not None and test.__class__ is not self._class:
            scope = _class_scope(self._class)
            self.engine.checkpoint(scope)
            self._judge(scope, _ScopeError(scope.id), result)

    def module_set_up(self, test: unittest.TestCase) -> None:
        module = test.__class__.__module__
        if module != self._module:
            self._module = module
            self.engine.checkpoint(Scope(module, "module", "setUpModule"))

    def module_torn_down(self, result: unittest.TestResult) -> None:
        if self._module is not None:
            scope = Scope(self._module, "module", "setUpModule")
            self.engine.checkpoint(scope)
            self._judge(scope, _ScopeError(scope.id), result)

    def _judge(self, scope: Scope, culprit: Any, result: unittest.TestResult) -> None:
        leaks = self.engine.end_scope(scope)
        if leaks and self.fail:
            result.addError(culprit, (IsolationLeak, IsolationLeak.of(leaks), None))
            self.leak_errors += 1


def _class_scope(cls: type) -> Scope:
    return Scope(f"{cls.__module__}.{cls.__qualname__}", "class", "setUpClass")


class IsolationSuite(unittest.TestSuite):
    """A flat suite that reports test, class and module boundaries to the isolation front.

    It overrides unittest's private fixture steps (stable since Python 2.7),
    which ``TestSuite.run`` calls right before each test and once at the end.
    """

    front: _Front | None = None

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


class IsolationRunner(DiscoverRunner):
    """``DiscoverRunner`` plus ``--isolation-check``, ``--isolation-report PATH`` and ``--isolation-fail``."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        for option in OPTIONS:
            if option.is_flag:
                parser.add_argument(option.flag, dest=option.dest, action="store_true", help=option.help)
            else:
                parser.add_argument(option.flag, dest=option.dest, metavar=option.metavar, help=option.help)

    def __init__(
        self,
        *args: Any,
        isolation_check: bool = False,
        isolation_report: str | None = None,
        isolation_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cli = {"isolation_check": isolation_check, "isolation_report": isolation_report, "isolation_fail": isolation_fail}
        self.isolation: Settings = resolve(cli, os.environ)
        self._front: _Front | None = None
        if self.isolation.enabled:
            self.test_suite = IsolationSuite

    def build_suite(self, *args: Any, **kwargs: Any) -> unittest.TestSuite:
        suite = super().build_suite(*args, **kwargs)
        if self.isolation.enabled and not isinstance(suite, IsolationSuite):
            raise SystemExit(
                "django-isolation: --parallel is not supported yet with --isolation-* options; "
                "run with --parallel 1"
            )
        return suite

    def run_suite(self, suite: unittest.TestSuite, **kwargs: Any) -> unittest.TestResult:
        if not isinstance(suite, IsolationSuite):
            return super().run_suite(suite, **kwargs)
        engine = Engine(checks.create(), runner="django")
        suite.front = self._front = _Front(engine, self.isolation.fail)
        self.log(header(self.isolation, engine.check_names))
        engine.start()
        try:
            return super().run_suite(suite, **kwargs)
        finally:
            self._report(engine)

    def run_tests(self, test_labels: list[str], **kwargs: Any) -> int:
        failures: int = super().run_tests(test_labels, **kwargs)
        if self._front and self._front.leak_errors and failures == self._front.leak_errors:
            raise SystemExit(EXIT_LEAKS_ONLY)
        return failures

    def _report(self, engine: Engine) -> None:
        data = to_json(engine.finish())
        print(f"\n{'=' * 20} {TITLE} {'=' * 20}\n{render_text(data)}", file=sys.stderr)
        if self.isolation.report:
            write_json(data, self.isolation.report)
