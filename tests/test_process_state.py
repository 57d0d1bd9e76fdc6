"""The process-state checks (environ, cwd, sys_path, import_hooks, threads, logging_config, warnings_filters,
locale_state): each catches its leak and stays quiet on the clean equivalent, under both runners."""

from __future__ import annotations

import textwrap
from typing import Any

from runs import Scenario


def line_of(source: str, text: str) -> int:
    """The 1-based line of the first line of `source` (as the scenario writes it) that contains `text`."""
    return next(n for n, line in enumerate(textwrap.dedent(source).splitlines(), 1) if text in line)


def only(run: Any, check: str) -> list[dict[str, Any]]:
    return [finding for finding in run.findings if finding["check"] == check]


ENVIRON = """
    import os
    from unittest import mock

    from django.test import SimpleTestCase


    class EnvTests(SimpleTestCase):
        def test_a_sets_a_flag(self):
            if {leak}:
                os.environ["SCENARIO_FLAG"] = "on"
                os.environ.pop("SCENARIO_GONE")
            else:
                os.environ["SCENARIO_FLAG"] = "on"
                self.addCleanup(os.environ.pop, "SCENARIO_FLAG")

        @mock.patch.dict(os.environ, {{"SCENARIO_OTHER": "1", "SCENARIO_GONE": "x"}})
        def test_b_patches(self):
            self.assertEqual(os.environ["SCENARIO_OTHER"], "1")

        def test_c_reads_the_flag(self):
            self.assertNotIn("SCENARIO_FLAG", os.environ)
"""


def test_environ_leak_is_caught_and_the_reader_is_its_victim(scenario: Scenario) -> None:
    scenario.write("test_env.py", ENVIRON.format(leak=True))
    run = scenario.run(checks="environ", SCENARIO_GONE="secret-ish")
    assert run.returncode == 1, run.output  # the reader fails, as it would without the tool
    polluter = scenario.test_id("test_env", "EnvTests", "test_a_sets_a_flag")
    by_key = {finding["details"]["variable"]: finding for finding in run.findings}
    assert set(by_key) == {"SCENARIO_FLAG", "SCENARIO_GONE"}
    assert by_key["SCENARIO_FLAG"]["test"] == by_key["SCENARIO_GONE"]["test"] == polluter
    assert by_key["SCENARIO_FLAG"]["summary"] == "environment variable SCENARIO_FLAG set to 'on'"
    assert by_key["SCENARIO_GONE"]["details"] | {"scope": None} == {
        "change": "removed",
        "variable": "SCENARIO_GONE",
        "before": "'secret-ish'",
        "after": None,
        "scope": None,
    }
    assert "monkeypatch.setenv" in by_key["SCENARIO_FLAG"]["advice"]
    assert run.victims == {scenario.test_id("test_env", "EnvTests", "test_c_reads_the_flag"): [polluter]}


def test_environ_restored_or_patched_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_env.py", ENVIRON.format(leak=False))
    run = scenario.run(checks="environ", SCENARIO_GONE="x")
    assert run.returncode == 0, run.output
    assert run.findings == []  # and neither runner's own variables (PYTEST_CURRENT_TEST) are reported


def test_secret_looking_values_are_masked(scenario: Scenario) -> None:
    scenario.write(
        "test_secret.py",
        """
        import os

        from django.test import SimpleTestCase


        class SecretTests(SimpleTestCase):
            def test_sets_a_token(self):
                os.environ["SCENARIO_API_TOKEN"] = "hunter2"
        """,
    )
    run = scenario.run(checks="environ")
    [finding] = run.findings
    assert "hunter2" not in str(finding)
    assert finding["details"]["after"] == "'***'"


CWD = """
    import contextlib
    import os
    import tempfile

    from django.test import SimpleTestCase


    class CwdTests(SimpleTestCase):
        def test_moves(self):
            if {leak}:
                os.chdir(tempfile.gettempdir())
            else:
                self.addCleanup(os.chdir, os.getcwd())
                os.chdir(tempfile.gettempdir())

        def test_context_manager(self):
            with chdir(tempfile.gettempdir()):  # contextlib.chdir from Python 3.11 on
                self.assertTrue(os.getcwd())


    @contextlib.contextmanager
    def chdir(path):
        before = os.getcwd()
        os.chdir(path)
        try:
            yield
        finally:
            os.chdir(before)
"""


def test_cwd_change_is_caught(scenario: Scenario) -> None:
    scenario.write("test_cwd.py", CWD.format(leak=True))
    run = scenario.run(checks="cwd")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_cwd", "CwdTests", "test_moves")
    assert finding["details"]["before"] == str(scenario.root)
    assert finding["details"]["after"] != str(scenario.root)
    assert "monkeypatch.chdir" in finding["advice"]


def test_cwd_restored_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_cwd.py", CWD.format(leak=False))
    run = scenario.run(checks="cwd")
    assert run.returncode == 0, run.output
    assert run.findings == []


SYS_PATH = """
    import sys
    from unittest import mock

    from django.test import SimpleTestCase


    class PathTests(SimpleTestCase):
        def test_inserts(self):
            if {leak}:
                sys.path.insert(0, "/scenario/fixtures")
            else:
                sys.path.insert(0, "/scenario/fixtures")
                self.addCleanup(sys.path.remove, "/scenario/fixtures")

        def test_patches(self):
            with mock.patch.object(sys, "path", ["/scenario/other", *sys.path]):
                self.assertEqual(sys.path[0], "/scenario/other")
"""


def test_sys_path_entry_is_caught(scenario: Scenario) -> None:
    scenario.write("test_path.py", SYS_PATH.format(leak=True))
    run = scenario.run(checks="sys_path")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_path", "PathTests", "test_inserts")
    assert finding["summary"] == "sys.path entry '/scenario/fixtures' added"
    assert finding["details"]["entry"] == "/scenario/fixtures"


def test_sys_path_restored_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_path.py", SYS_PATH.format(leak=False))
    run = scenario.run(checks="sys_path")
    assert run.returncode == 0, run.output
    assert run.findings == []


SELF_PLACING_LIBRARY = """
    import os
    import sys

    sys.path.append(os.path.join(os.path.dirname(__file__), "vendored"))  # its own directory, on first import
"""

FIRST_USE = """
    import sys

    from django.test import SimpleTestCase


    class PathTests(SimpleTestCase):
        def test_a_first_import_of_a_library_that_adds_its_own_path(self):
            import scenario.selfplacing.loader  # noqa: F401

        def test_b_adds_a_path_for_its_fixtures(self):
            sys.path.insert(0, "/scenario/fixtures")
"""


def test_a_path_added_with_the_first_import_of_a_module_under_it_is_quiet_and_a_tests_own_is_caught(
    scenario: Scenario,
) -> None:
    scenario.write("selfplacing/__init__.py", "")
    scenario.write("selfplacing/vendored/__init__.py", "")
    scenario.write("selfplacing/loader.py", SELF_PLACING_LIBRARY)
    scenario.write("test_first_use.py", FIRST_USE)
    run = scenario.run(checks="sys_path")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_first_use", "PathTests", "test_b_adds_a_path_for_its_fixtures")


IMPORT_HOOKS = """
    import importlib
    import sys
    from unittest import mock

    from django.test import SimpleTestCase


    class FakeFinder:
        def find_spec(self, name, path=None, target=None):
            return None


    class HookTests(SimpleTestCase):
        def test_installs(self):
            if {leak}:
                sys.meta_path.insert(0, FakeFinder())
            else:
                finder = FakeFinder()
                sys.meta_path.insert(0, finder)
                self.addCleanup(sys.meta_path.remove, finder)

        def test_patches(self):
            with mock.patch.object(sys, "meta_path", [FakeFinder(), *sys.meta_path]):
                importlib.import_module("json")

        def test_imports_from_a_new_directory(self):
            importlib.import_module("scenario.pkg.mod")  # a new path_importer_cache entry: normal
"""


def write_import_hooks(scenario: Scenario, leak: bool) -> None:
    scenario.write("test_hooks.py", IMPORT_HOOKS.format(leak=leak))
    scenario.write("pkg/__init__.py", "")
    scenario.write("pkg/mod.py", "VALUE = 1\n")


def test_import_hook_left_in_meta_path_is_caught(scenario: Scenario) -> None:
    write_import_hooks(scenario, leak=True)
    run = scenario.run(checks="import_hooks")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_hooks", "HookTests", "test_installs")
    assert finding["summary"] == "import hook scenario.test_hooks.FakeFinder added to sys.meta_path"
    assert finding["details"]["where"] == "meta_path"


def test_import_hooks_restored_and_late_imports_are_quiet(scenario: Scenario) -> None:
    write_import_hooks(scenario, leak=False)
    run = scenario.run(checks="import_hooks")
    assert run.returncode == 0, run.output
    assert run.findings == []


THREADS = """
    import importlib
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.test import SimpleTestCase

    STOP = threading.Event()


    def serve():
        STOP.wait(60)


    class ThreadTests(SimpleTestCase):
        def test_a_starts_a_worker(self):
            worker = threading.Thread(target=serve, name="scenario-worker", daemon=True)
            worker.start()
            if not {leak}:
                self.addCleanup(worker.join)
                self.addCleanup(STOP.set)

        def test_b_pool(self):
            with ThreadPoolExecutor(max_workers=2) as pool:
                self.assertEqual(list(pool.map(abs, [-1, -2])), [1, 2])

        def test_c_first_import_starts_a_daemon(self):
            importlib.import_module("scenario.background")
"""
BACKGROUND = """
    import threading

    threading.Thread(target=threading.Event().wait, args=(60,), name="library-daemon", daemon=True).start()
"""


def test_thread_left_running_is_caught_with_where_it_was_started(scenario: Scenario) -> None:
    scenario.write("test_threads.py", THREADS.format(leak=True))
    scenario.write("background.py", BACKGROUND)
    run = scenario.run(checks="threads")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_threads", "ThreadTests", "test_a_starts_a_worker")
    assert finding["summary"] == (
        f"daemon thread 'scenario-worker' still running (target serve (scenario/test_threads.py:"
        f"{line_of(THREADS, 'def serve')}))"
    )
    assert finding["origin"][0] == {
        "file": "scenario/test_threads.py",
        "line": line_of(THREADS, "worker.start()"),
        "function": "test_a_starts_a_worker",
    }


def test_joined_threads_pools_and_import_time_daemons_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_threads.py", THREADS.format(leak=False))
    scenario.write("background.py", BACKGROUND)
    run = scenario.run(checks="threads")
    assert run.returncode == 0, run.output
    assert run.findings == []


LOGGING = """
    import importlib
    import logging
    from unittest import mock

    from django.test import SimpleTestCase

    AUDIT = logging.getLogger("scenario.audit")


    class LoggingTests(SimpleTestCase):
        def test_a_configures(self):
            handler = logging.StreamHandler()
            AUDIT.addHandler(handler)
            AUDIT.setLevel(logging.CRITICAL)
            if not {leak}:
                self.addCleanup(AUDIT.removeHandler, handler)
                self.addCleanup(AUDIT.setLevel, logging.NOTSET)

        def test_b_assert_logs(self):
            with self.assertLogs("scenario.audit", level="INFO"):
                AUDIT.info("hello")

        def test_c_patched(self):
            with mock.patch.object(AUDIT, "disabled", True):
                AUDIT.error("nobody hears this")

        def test_d_first_import_adds_a_null_handler(self):
            importlib.import_module("scenario.library")

        def test_e_audit_is_heard(self):
            with self.assertLogs("scenario.audit", level="INFO"):
                AUDIT.info("hello")
"""
LIBRARY = """
    import logging

    logging.getLogger("scenario.library").addHandler(logging.NullHandler())
"""


def test_logger_handler_and_level_left_behind_are_caught(scenario: Scenario) -> None:
    scenario.write("test_logging.py", LOGGING.format(leak=True))
    scenario.write("library.py", LIBRARY)
    run = scenario.run(checks="logging_config")
    [finding] = run.findings
    polluter = scenario.test_id("test_logging", "LoggingTests", "test_a_configures")
    assert finding["test"] == polluter
    assert finding["summary"] == (
        "logger 'scenario.audit': level NOTSET -> CRITICAL, handler(s) added: logging.StreamHandler"
    )
    assert finding["details"]["changes"] == ["level", "handler_added"]
    assert finding["origin"][0] == {
        "file": "scenario/test_logging.py",
        "line": line_of(LOGGING, "AUDIT.setLevel(logging.CRITICAL)"),
        "function": "test_a_configures",
    }
    assert run.returncode == 0, run.output  # assertLogs sets its own level: the later tests still pass


def test_logging_restored_patched_and_first_imports_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_logging.py", LOGGING.format(leak=False))
    scenario.write("library.py", LIBRARY)
    run = scenario.run(checks="logging_config")
    assert run.returncode == 0, run.output
    assert run.findings == []  # nor pytest's own capture handlers


def test_dict_config_disabling_existing_loggers_is_caught(scenario: Scenario) -> None:
    source = """
        import logging
        import logging.config

        from django.test import SimpleTestCase

        HANDLED = logging.getLogger("scenario.handled")


        class ConfigTests(SimpleTestCase):
            def test_a_reconfigures(self):
                logging.config.dictConfig({"version": 1})

            def test_b_logs(self):
                with self.assertLogs("scenario.handled", level="INFO"):
                    HANDLED.info("heard")
        """
    scenario.write("test_config.py", source)
    run = scenario.run(checks="logging_config")
    assert run.returncode == 1, run.output  # the disabled logger is silent: assertLogs fails
    polluter = scenario.test_id("test_config", "ConfigTests", "test_a_reconfigures")
    by_logger = {finding["details"]["logger"]: finding for finding in run.findings}
    assert {finding["test"] for finding in run.findings} == {polluter}
    handled = by_logger["scenario.handled"]
    assert handled["summary"] == "logger 'scenario.handled': disabled"
    assert handled["origin"][0]["line"] == line_of(source, "dictConfig(")
    assert run.victims == {scenario.test_id("test_config", "ConfigTests", "test_b_logs"): [polluter]}


WARNINGS = """
    import warnings

    from django.test import SimpleTestCase


    class WarningTests(SimpleTestCase):
        def test_a_silences(self):
            if {leak}:
                warnings.simplefilter("ignore", UserWarning)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    warnings.warn("muted", UserWarning)

        def test_b_expects_a_warning(self):
            with self.assertWarns(UserWarning):
                warnings.warn("heard", UserWarning)
"""


def test_warning_filter_left_behind_is_caught_by_the_django_runner(scenario: Scenario) -> None:
    scenario.write("test_warnings.py", WARNINGS.format(leak=True))
    run = scenario.run(checks="warnings_filters")
    assert run.returncode == 0, run.output
    if scenario.runner == "pytest":
        # pytest runs each test in a catch_warnings of its own and restores the filters: no leak to report.
        assert run.findings == []
        return
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_warnings", "WarningTests", "test_a_silences")
    assert finding["summary"] == "warning filter 'ignore::UserWarning' added"
    assert "catch_warnings" in finding["advice"]


def test_warning_filters_in_catch_warnings_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_warnings.py", WARNINGS.format(leak=False))
    run = scenario.run(checks="warnings_filters")
    assert run.returncode == 0, run.output
    assert run.findings == []  # nor the filters unittest's runner and pytest set up around the tests


def test_replaced_showwarning_is_caught_by_the_django_runner(scenario: Scenario) -> None:
    scenario.write(
        "test_show.py",
        """
        import warnings

        from django.test import SimpleTestCase


        def quiet(*args, **kwargs):
            pass


        class ShowTests(SimpleTestCase):
            def test_replaces(self):
                warnings.showwarning = quiet
        """,
    )
    run = scenario.run(checks="warnings_filters")
    assert run.returncode == 0, run.output
    if scenario.runner == "pytest":
        assert run.findings == []  # restored by pytest's per-test catch_warnings
        return
    [finding] = run.findings
    assert finding["summary"].startswith("warnings.showwarning replaced: ")
    assert finding["summary"].endswith(" -> scenario.test_show.quiet")


LOCALE = """
    import locale

    from django.test import SimpleTestCase


    class LocaleTests(SimpleTestCase):
        def test_sets(self):
            old = locale.setlocale(locale.LC_NUMERIC)
            locale.setlocale(locale.LC_NUMERIC, "C.UTF-8")
            if not {leak}:
                self.addCleanup(locale.setlocale, locale.LC_NUMERIC, old)
"""


def test_locale_category_left_set_is_caught(scenario: Scenario) -> None:
    scenario.write("test_locale.py", LOCALE.format(leak=True))
    run = scenario.run(checks="locale_state")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_locale", "LocaleTests", "test_sets")
    assert finding["summary"] == "locale category LC_NUMERIC changed from 'C' to 'C.UTF-8'"


def test_locale_restored_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_locale.py", LOCALE.format(leak=False))
    run = scenario.run(checks="locale_state")
    assert run.returncode == 0, run.output
    assert run.findings == []


PROCESS_CHECKS = "environ,cwd,sys_path,import_hooks,threads,logging_config,warnings_filters,locale_state"


def test_pytest_fixtures_that_restore_are_quiet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = Scenario(tmp_path, "pytest")
    scenario.write(
        "test_fixtures.py",
        """
        import logging
        import os
        import sys
        import warnings

        import pytest


        def test_monkeypatch(monkeypatch, tmp_path):
            monkeypatch.setenv("SCENARIO_FLAG", "on")
            monkeypatch.delenv("HOME", raising=False)
            monkeypatch.chdir(tmp_path)
            monkeypatch.syspath_prepend(str(tmp_path))
            monkeypatch.setattr(sys, "meta_path", [*sys.meta_path])


        def test_caplog(caplog):
            caplog.set_level(logging.DEBUG, logger="scenario.audit")
            logging.getLogger("scenario.audit").debug("heard")
            assert caplog.records


        @pytest.mark.filterwarnings("error::UserWarning")
        def test_filterwarnings_mark():
            with pytest.warns(UserWarning):
                warnings.warn("expected", UserWarning)
        """,
    )
    run = scenario.run(checks=PROCESS_CHECKS)
    assert run.returncode == 0, run.output
    assert "3 passed" in run.output
    assert run.findings == []
