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
from typing import TYPE_CHECKING, Any

from django.test.runner import DiscoverRunner
from django.test.utils import iter_test_cases

from django_isolation.allow import split
from django_isolation.options import EXIT_LEAKS_ONLY, GATE_DATABASE_USES, OPTIONS, Settings, resolve

if TYPE_CHECKING:
    from django_isolation.checks import Check
    from django_isolation.engine import Engine
    from django_isolation.gate_run import MigratorSurvey
    from django_isolation.suite import IsolationFront


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
        parser.add_argument(
            "--isolation-replay",
            metavar="FILE",
            help="run exactly the tests FILE lists (one test id a line, # comments), in that order, after any "
            "reordering (--reverse, --shuffle, TestCase first)",
        )
        parser.add_argument(
            "--isolation-replay-server",
            metavar="R:W",
            help="(used by django-isolation find-polluter, with --isolation-replay) run each trial read from file "
            "descriptor R in a forked child; answer on W",
        )
        parser.add_argument(
            "--isolation-gate-survey",
            metavar="FILE",
            help="(used by isolation_gate) write the tests that built a django-test-migrations Migrator, and the "
            "tests' tags, to FILE",
        )
        parser.add_argument(
            "--isolation-gate-database",
            choices=GATE_DATABASE_USES,
            help="(used by isolation_gate and django-isolation find-polluter, with --keepdb) first: copy the test "
            "databases once built; reuse: start from that copy; last: start from it, destroy the databases and the "
            "copies at the end; drop: (with an empty --isolation-replay) drop the test databases and copies left by "
            "earlier runs",
        )

    def __init__(
        self,
        *args: Any,
        isolation_check: bool = False,
        isolation_report: str | None = None,
        isolation_fail: bool = False,
        isolation_checks: str | None = None,
        isolation_allow: str | None = None,
        isolation_replay: str | None = None,
        isolation_replay_server: str | None = None,
        isolation_gate_survey: str | None = None,
        isolation_gate_database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.replay = isolation_replay
        self.replay_server = isolation_replay_server
        self.gate_survey = isolation_gate_survey
        self.gate_database = isolation_gate_database
        cli = {
            "isolation_check": isolation_check,
            "isolation_report": isolation_report,
            "isolation_fail": isolation_fail,
            "isolation_checks": isolation_checks,
            "isolation_allow": isolation_allow,
        }
        self.isolation: Settings = resolve(cli, os.environ)
        self._front: IsolationFront | None = None
        self._parallel_leak_errors = 0
        self._checks: list[Check] = []
        if self.isolation.enabled:
            from django_isolation import checks
            from django_isolation.suite import IsolationSuite

            try:
                self._checks = checks.create(self.isolation.checks)
            except ValueError as error:
                raise SystemExit(f"django-isolation: {error}") from None
            from django_isolation.parallel import IsolationParallelTestSuite

            self.test_suite = IsolationSuite
            self.parallel_test_suite = IsolationParallelTestSuite
        elif self.gate_survey:
            raise SystemExit("django-isolation: --isolation-gate-survey needs --isolation-check")

    def build_suite(self, test_labels: Any = None, *args: Any, **kwargs: Any) -> unittest.TestSuite:
        if self.replay and self.parallel > 1:
            raise SystemExit("django-isolation: --isolation-replay runs the tests in one process: use --parallel 1")
        listed = self._listed() if self.replay else []
        suite = super().build_suite(listed or test_labels, *args, **kwargs)  # the listed tests' modules only
        return self._replayed(suite, listed) if self.replay else suite

    def _listed(self) -> list[str]:
        from django_isolation.gate_run import read_replay

        try:
            return read_replay(self.replay or "")
        except ValueError as error:
            raise SystemExit(f"django-isolation: {error}") from None

    def _replayed(self, suite: unittest.TestSuite, listed: list[str]) -> unittest.TestSuite:
        from django_isolation.gate_run import replayed

        try:
            tests, _ = replayed(iter_test_cases(suite), listed, lambda test: test.id())
        except ValueError as error:
            raise SystemExit(f"django-isolation: {error}") from None
        return suite.__class__(tests)

    def setup_databases(self, **kwargs: Any) -> Any:
        if self.gate_database == "drop":
            from django_isolation.gate_run import drop_test_databases

            drop_test_databases(self.verbosity)
        old_config = super().setup_databases(**kwargs)
        if self.gate_database and self.gate_database != "drop":
            from django_isolation.gate_run import prepare_test_databases

            prepare_test_databases(self.gate_database, self.verbosity)
        return old_config

    def teardown_databases(self, old_config: Any, **kwargs: Any) -> None:
        if self.gate_database == "last":
            from django_isolation.gate_run import destroy_snapshots

            destroy_snapshots()
            self.keepdb = False  # kept while the tests ran; destroyed now, as a run without --keepdb does
        super().teardown_databases(old_config, **kwargs)

    def run_suite(self, suite: unittest.TestSuite, **kwargs: Any) -> unittest.TextTestResult:
        if not self.isolation.enabled:
            return super().run_suite(suite, **kwargs)
        if suite.__class__ is self.parallel_test_suite:
            return self._run_parallel(suite, **kwargs)
        from django_isolation.engine import Engine
        from django_isolation.report import header
        from django_isolation.suite import IsolationFront

        engine = Engine(self._checks, runner="django", allow=split(self.isolation.allow))
        suite.front = self._front = IsolationFront(engine, self.isolation.fail)  # type: ignore[attr-defined]
        self.log(header(self.isolation, engine.check_names))
        survey = self._survey(suite) if self.gate_survey else None
        engine.start()
        try:
            return super().run_suite(suite, **kwargs)
        finally:
            if survey is not None:
                survey.stop(self.gate_survey or "")
            self._report(engine)

    def _run_parallel(self, suite: Any, **kwargs: Any) -> unittest.TextTestResult:
        """Under ``--parallel N``: the workers check their own tests (:mod:`django_isolation.parallel`)."""
        from django_isolation.parallel import gathered
        from django_isolation.report import header

        if self.gate_survey:
            raise SystemExit("django-isolation: --isolation-gate-survey runs in one process: use --parallel 1")
        self.log(header(self.isolation, [check.name for check in self._checks]) + " (each worker checks its tests)")
        directory = suite.prepare(self.isolation)
        try:
            return super().run_suite(suite, **kwargs)
        finally:
            data, self._parallel_leak_errors = gathered(directory)
            self._write_report(data)

    def _survey(self, suite: unittest.TestSuite) -> MigratorSurvey:
        from django_isolation.gate_run import MigratorSurvey

        front = self._front
        survey = MigratorSurvey(lambda: front.current_test if front else None)
        for test in iter_test_cases(suite):
            method = getattr(test, getattr(test, "_testMethodName", ""), None)
            survey.tagged(test.id(), {*getattr(test, "tags", ()), *getattr(method, "tags", ())})
        survey.start()
        return survey

    def run_tests(self, test_labels: list[str], **kwargs: Any) -> int:
        if self.replay_server:
            self._serve(test_labels)
            return 0
        failures: int = super().run_tests(test_labels, **kwargs)
        leak_errors = self._front.leak_errors if self._front else self._parallel_leak_errors
        if leak_errors and failures == leak_errors:
            raise SystemExit(EXIT_LEAKS_ONLY)
        return failures

    def _serve(self, test_labels: list[str]) -> None:
        """``--isolation-replay-server``: load the listed tests once; run each trial in a forked child."""
        from django_isolation.replay_server import serve

        self.setup_test_environment()
        suite = self.build_suite(test_labels)
        by_id = {test.id(): test for test in iter_test_cases(suite)}
        serve(self.replay_server or "", lambda request: self._trial(suite, by_id, request))

    def _trial(self, suite: unittest.TestSuite, by_id: dict[str, Any], request: dict[str, Any]) -> None:
        """One trial, in the child: the databases set up as a run does (``--keepdb``), the tests, their outcomes."""
        from django_isolation.replay_server import write_outcomes

        self.gate_database = request["database"]
        if self.gate_database == "drop":
            from django_isolation.gate_run import drop_test_databases

            drop_test_databases(self.verbosity)
            return
        tests = list(request["tests"])
        trial = suite.__class__([by_id[test] for test in tests])
        databases = self.get_databases(trial)
        trial.serialized_aliases = {alias for alias, serialize in databases.items() if serialize}  # type: ignore[attr-defined]
        old_config = self.setup_databases(aliases=databases, serialized_aliases=trial.serialized_aliases)  # type: ignore[attr-defined]
        try:
            self.run_checks(databases)
            result = self.run_suite(trial)
        finally:
            self.teardown_databases(old_config)
        failing = [test for test, _ in [*result.failures, *result.errors]] + list(result.unexpectedSuccesses)
        write_outcomes(request["result"], tests[: result.testsRun], [_failed_id(test, tests) for test in failing])

    def _report(self, engine: Engine) -> None:
        from django_isolation.report import to_json

        self._write_report(to_json(engine.finish()))

    def _write_report(self, data: dict[str, Any]) -> None:
        from django_isolation.report import TITLE, render_text, write_json

        print(f"\n{'=' * 20} {TITLE} {'=' * 20}\n{render_text(data)}", file=sys.stderr)
        if self.isolation.report:
            write_json(data, self.isolation.report)


def _failed_id(test: Any, tests: list[str]) -> str:
    """The id of the test a failure is of: a subtest's test; for a class or module fixture's error
    (``setUpClass (app.tests.T)``), the first of `tests` in that class or module."""
    test = getattr(test, "test_case", test)
    scope = getattr(test, "description", "").partition("(")[2].rstrip(")")
    if scope:
        return next((listed for listed in tests if listed.startswith(f"{scope}.")), scope)
    return str(test.id())
