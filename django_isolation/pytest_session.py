"""The pytest front, registered only when the checks are on.

Check points: at the end of each test's teardown (owner: the test), and around
every class-, module-, package- or session-scoped fixture's setup and teardown
(owner: that scope; the point that ends a set-up is taken at the next hook after
it); after the last test of a module, the module's end. unittest's ``setUpClass`` and ``setUpModule`` run as such
fixtures under pytest, so they are covered the same way. A point that would
follow another with only pytest's machinery in between (the next fixture set up
or torn down right after one) is not taken.

The baselines are taken as the first of the project's code is about to run:
the framework's wider set-up before it (pytest-django's ``django_db_setup``,
inside the first unittest class's ``_django_setup_unittest``) is part of them.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from typing import Any, Final

import pytest

from django_isolation import allow, checks, pytest_xdist
from django_isolation.engine import MAIN_PROCESS, SWEEP_SCOPES, Engine, Finding, IsolationLeak, Scope, ScopeKind
from django_isolation.evidence import Failure
from django_isolation.options import EXIT_LEAKS_ONLY, Settings
from django_isolation.origin import Frame, is_user_file, relative_path
from django_isolation.report import TITLE, header, render_text, to_json, write_json

FRAMEWORK_MODULES: Final = ("_pytest", "pytest_django")
"""Packages whose wider-scoped fixtures are the test framework's own set-up (their changes are the baseline)."""
_XUNIT_FIXTURE_PREFIXES = (
    ("_unittest_setUpClass_fixture_", "setUpClass"),
    ("_xunit_setup_module_fixture_", "setup_module"),
    ("_xunit_setup_class_fixture_", "setup_class"),
)


class IsolationPlugin:
    """Drives one :class:`~django_isolation.engine.Engine` through a pytest session."""

    def __init__(self, settings: Settings, worker: str | None = None) -> None:
        self.settings = settings
        self.worker = worker  # pytest-xdist's worker id; None in a serial run
        try:
            engine_worker = worker or MAIN_PROCESS
            found = checks.create(settings.checks)
            self.engine = Engine(found, runner="pytest", worker=engine_worker, allow=allow.split(settings.allow))
        except ValueError as error:
            raise pytest.UsageError(f"django-isolation: {error}") from None
        self._looping = False
        self._started = False
        self._first_test: tuple[str, str | None] | None = None
        # The last check point was just taken and only pytest's machinery ran since: another would see nothing.
        self._quiet = False
        self._owners: list[Scope] = []
        self._wide: dict[pytest.FixtureDef[Any], bool] = {}  # whether a fixture's scope is wider than a test's
        # Wider fixtures whose set-up ran last, and the finalizer of those set up before the baselines.
        self._setting_up: list[tuple[pytest.FixtureDef[Any], Scope, functools.partial[None] | None]] = []
        self._no_teardown: set[Scope] = set()  # framework fixtures of the baselines whose teardown runs no code
        self._scope_leaks: list[Finding] = []
        self._ending_module: Scope | None = None
        self._leak_errors = 0
        self._other_failures = 0
        self._report: dict[str, Any] | None = None

    def pytest_report_header(self) -> str:
        return header(self.settings, self.engine.check_names)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        write_header_when_quiet(session, header(self.settings, self.engine.check_names))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self) -> Generator[None, object, object]:
        self._looping = True
        self.engine.prepare()
        return (yield)

    def _start(self) -> None:
        """Take the baselines, once, as the first of the project's code is about to run.

        The test framework's session set-up that comes before (pytest-django's
        ``django_test_environment`` and ``django_db_setup``: the test database, its
        migrations) is part of the baselines, as it is under ``manage.py test``: it
        runs under no check point and no wrapper.
        """
        if self._started:
            return
        self._started = True
        self.engine.start()
        if self._first_test is not None:
            self.engine.test_started(*self._first_test)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        self._owners = [Scope(item.nodeid, "test", allow=allow.Deferred(functools.partial(_allowed, item)))]
        self._scope_leaks = []
        if self._started:
            self.engine.test_started(item.nodeid, _module_name(item))
        else:
            self._first_test = (item.nodeid, _module_name(item))
        try:
            return (yield)
        finally:
            if self._setting_up:
                self._end_set_ups()
            self._start()
            self._quiet = False  # the test runs next

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
        """Open a check point's interval for a class-, module-, package- or session-scoped fixture's set-up.

        Not a hook wrapper: pytest calls this hook for every fixture, about 8 a test under pytest-django, and a
        wrapper costs about 3 k instructions a call more. The point that ends the set-up is taken at the next hook
        that follows it (:meth:`_end_set_ups`).
        """
        if self._setting_up:
            self._end_set_ups()
        wide = self._wide.get(fixturedef)
        if wide is None:  # FixtureDef.scope reads an enum's value: about 1 k instructions
            wide = self._wide[fixturedef] = fixturedef.scope != "function"
        if not wide or not self._owners:
            self._quiet = False  # the fixture's code runs next
            if not self._started and self._owners:
                self._start()
            return
        quiet, self._quiet = self._quiet, False
        scope = _fixture_scope(fixturedef, request, first_test=self._owners[0].id)
        # Finalizers run last-in first-out: this one runs after the fixture's own teardown...
        torn_down = functools.partial(self._fixture_torn_down, scope)
        fixturedef.addfinalizer(torn_down)
        checked = self._started or not scope.framework  # the framework's set-up before the baselines is part of them
        if checked:
            self._start()
            if not quiet:  # a fixture set up right after another: its point closed the interval
                self.engine.checkpoint(self._owners[-1], framework_class=scope.framework_class)
        self._owners.append(scope)
        self._setting_up.append((fixturedef, scope, None if checked else torn_down))

    def _end_set_ups(self) -> None:
        """Take the point that ends each wider fixture's set-up that has finished, innermost first.

        pytest sets a fixture's ``cached_result`` when its set-up returns or raises: one still ``None`` is still
        running (it asked for another fixture with ``request.getfixturevalue``). Called as the next fixture's set-up
        begins, as the test's set-up ends and as its teardown begins; a wider fixture first asked for from the test's
        body is therefore closed as the teardown begins.
        """
        while self._setting_up and self._setting_up[-1][0].cached_result is not None:
            fixturedef, scope, torn_down = self._setting_up.pop()
            self._owners.pop()
            if torn_down is not None and _runs_no_teardown(fixturedef, torn_down):
                # Part of the baselines, and nothing of its own runs when it is torn down (most of pytest-django's
                # session fixtures): no point there.
                self._no_teardown.add(scope)
                continue
            # The framework's set-up is the baseline, all of it: what it changed in place (pytest-django renaming
            # a database's NAME in the settings dicts) must be seen here, not where a module ends; not a class-scoped
            # one (pytest-django's _django_setup_unittest runs for every unittest class: a sweep each is dear).
            if self._started:
                self.engine.checkpoint(scope, scope.framework and scope.kind in SWEEP_SCOPES, scope.framework_class)
                self._quiet = True
            # ...and this one before it, closing the interval of the test being torn down.
            fixturedef.addfinalizer(functools.partial(self._before_teardown, scope))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        module = item.getparent(pytest.Module)
        if module is not None and (nextitem is None or nextitem.getparent(pytest.Module) is not module):
            self._ending_module = Scope(module.nodeid, "module")
        if self._setting_up:
            self._end_set_ups()
        try:
            outcome = yield
        except BaseException:
            self._end_test()
            raise
        leaks = self._end_test()
        if leaks and self.settings.fail:
            raise IsolationLeak.of(leaks)
        return outcome

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.excinfo is not None and call.excinfo.errisinstance(IsolationLeak):
            report.outcome = "failed"  # an xfail mark must not swallow a leak
            report.longrepr = f"IsolationLeak: {call.excinfo.value}"  # the message says it all
            if hasattr(report, "wasxfail"):
                del report.wasxfail
            self._leak_errors += 1
        elif report.failed:
            self._other_failures += 1
            self.engine.test_failed(item.nodeid, Failure.of(call.excinfo.value if call.excinfo else None))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self._looping:
            return
        self._start()
        self._report = to_json(self.engine.finish())
        if self.worker is not None:  # the controller merges, writes and prints
            pytest_xdist.hand_over(session.config, self._report, self._leak_errors, self._other_failures)
            self._report = None
            return
        if self.settings.report:
            write_json(self._report, self.settings.report)
        if self._leak_errors and not self._other_failures and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = EXIT_LEAKS_ONLY

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._report is not None:
            terminalreporter.write_sep("=", TITLE)
            terminalreporter.write_line(render_text(self._report))

    def _before_teardown(self, scope: Scope) -> None:
        if self._owners:  # pytest also tears fixtures down after the session ended (-x, Ctrl-C)
            if not self._quiet:  # torn down right after another fixture: its end closed the interval
                self.engine.checkpoint(self._owners[-1], framework_class=scope.framework_class)
            self._quiet = False  # the fixture's own teardown runs next
            if scope.kind == "session":  # pytest-django's test databases are destroyed here
                self._end_module()
                self.engine.release()

    def _end_module(self) -> None:
        """The last test of a module is ending: a sweep, before session fixtures go."""
        if self._ending_module is not None:
            self._scope_leaks += self.engine.end_scope(self._ending_module)
            self._ending_module = None

    def _fixture_torn_down(self, scope: Scope) -> None:
        if self._owners and scope not in self._no_teardown:
            self._scope_leaks += self.engine.end_scope(scope)
            self._quiet = True

    def _end_test(self) -> list[Finding]:
        leaks = self.engine.end_scope(self._owners[0])
        self._end_module()
        leaks = [*self._scope_leaks, *leaks]
        self._owners, self._scope_leaks, self._quiet = [], [], False
        self._setting_up.clear()
        return leaks


def write_header_when_quiet(session: pytest.Session, line: str) -> None:
    """Under ``-q`` pytest prints no report header: say which checks are on all the same."""
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None and session.config.option.verbose < 0 and not session.config.option.no_header:
        terminal.write_line(line)


def _fixture_scope(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest, first_test: str) -> Scope:
    kind: ScopeKind = fixturedef.scope  # type: ignore[assignment]
    name = _fixture_label(fixturedef.argname)
    code = getattr(fixturedef.func, "__code__", None)
    where = None
    if code is not None and is_user_file(code.co_filename):
        where = Frame(relative_path(code.co_filename), code.co_firstlineno, fixturedef.argname)
    if kind == "session":
        scope_id = where.file if where else "session"
    else:
        scope_id = request.node.nodeid
    module = getattr(fixturedef.func, "__module__", None) or ""
    framework = name == fixturedef.argname and module.partition(".")[0] in FRAMEWORK_MODULES  # not a setUpClass
    patterns = allow.Deferred(functools.partial(_allowed, request.node))
    return Scope(scope_id, kind, name, where, first_test, patterns, framework)


def _runs_no_teardown(fixturedef: pytest.FixtureDef[Any], ours: functools.partial[None]) -> bool:
    """Whether nothing but other fixtures' ``finish`` was added to `fixturedef`'s finalizers after `ours`.

    During its set-up a fixture adds its own teardown there (the rest of a generator, ``request.addfinalizer``);
    the fixtures that depend on it add their ``finish``, to be torn down first, with points of their own.
    """
    finalizers = getattr(fixturedef, "_finalizers", None)
    if not isinstance(finalizers, list) or ours not in finalizers:
        return False
    after = finalizers[finalizers.index(ours) + 1 :]
    return all(isinstance(getattr(getattr(f, "func", None), "__self__", None), type(fixturedef)) for f in after)


def _allowed(node: pytest.Item | pytest.Collector) -> tuple[str, ...]:
    """Patterns from ``isolation_allow`` marks on `node` and its parents, and from the decorator."""
    marked = tuple(str(pattern) for mark in node.iter_markers(allow.MARKER) for pattern in mark.args)
    return marked + allow.patterns_of(getattr(node, "obj", None), getattr(node, "cls", None))


def _module_name(item: pytest.Item) -> str | None:
    """The name of the module that defines `item`'s test function, if it is one."""
    function = getattr(item, "function", None) if isinstance(item, pytest.Function) else None
    return getattr(function, "__module__", None)


def _fixture_label(argname: str) -> str:
    for prefix, label in _XUNIT_FIXTURE_PREFIXES:
        if argname.startswith(prefix):
            return label
    return argname
