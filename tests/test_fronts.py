"""What the fronts promise beyond the checks: nothing loaded when off, clear refusals, the CLI."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from runs import REPO, Scenario, manage_test, run, run_pytest

NOT_LOADED_PROBE = """
    import sys


    def test_nothing_of_the_engine_is_loaded(pytestconfig):
        assert pytestconfig.pluginmanager.hasplugin("django_isolation")  # the pytest11 entry point
        assert pytestconfig.pluginmanager.get_plugin("django_isolation_session") is None
        assert "django_isolation.engine" not in sys.modules
        assert "django_isolation.pytest_session" not in sys.modules
"""


def test_pytest_plugin_loads_nothing_when_off(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_probe.py", NOT_LOADED_PROBE)
    result = scenario.run(check=False)
    assert result.returncode == 0, result.output
    assert "1 passed" in result.output


REWRITTEN_PLUGIN_PACKAGE = """
    import pytest

    pytest.register_assert_rewrite("django_isolation")  # as pytest marks a plugin installed from a wheel
"""
LOADER_PROBE = """
    import sys


    def test_the_engine_and_checks_are_imported_as_any_library():
        for name in ("django_isolation.engine", "django_isolation.pytest_session", "django_isolation.checks.db_rows"):
            assert type(sys.modules[name].__loader__).__name__ == "SourceFileLoader", name
"""


def test_pytest_plugin_imports_its_modules_without_assertion_rewriting(tmp_path: Path) -> None:
    """pytest reads a rewritten module's cached code slowly: the checked run imports the package as a library."""
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("conftest.py", REWRITTEN_PLUGIN_PACKAGE)
    scenario.write("test_probe.py", LOADER_PROBE)
    result = scenario.run(checks="default")
    assert result.returncode == 0, result.output
    assert "1 passed" in result.output


def test_django_runner_is_a_plain_discover_runner_when_off(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write(
        "test_probe.py",
        """
        import sys

        from django.test import SimpleTestCase


        class ProbeTests(SimpleTestCase):
            def test_nothing_of_the_engine_is_loaded(self):
                loaded = sorted(name for name in sys.modules if name.startswith("django_isolation"))
                # The package, the options, the runner, and the tiny isolation_allow decorator: no engine, no check.
                expected = ["django_isolation", "django_isolation.allow", "django_isolation.options", "django_isolation.runner"]
                self.assertEqual(loaded, expected)
        """,
    )
    result = scenario.run(check=False)
    assert result.returncode == 0, result.output
    assert "Ran 1 test" in result.output


def test_runner_options_are_listed_in_manage_py_help() -> None:
    result = manage_test(REPO, "--help")
    for flag in ("--isolation-check", "--isolation-report PATH", "--isolation-fail"):
        assert flag in result.output


def test_cli_show_prints_a_report_written_by_a_real_run(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    manage_test(REPO, "--isolation-report", str(report), "testproject.demo.polluted")
    shown = run([sys.executable, "-m", "django_isolation.cli", "show", str(report)], REPO)
    assert shown.returncode == 1, shown.output
    assert "POLLUTER testproject.demo.polluted.test_app_routers.AnalyticsRouterTests" in shown.output
    assert "created at testproject/demo/polluted/test_app_routers.py:11" in shown.output


def test_cli_show_exits_0_on_a_clean_report_and_2_on_a_foreign_file(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    manage_test(REPO, "--isolation-report", str(report), "testproject.demo.clean")
    assert run([sys.executable, "-m", "django_isolation.cli", "show", str(report)], REPO).returncode == 0
    (tmp_path / "other.json").write_text('{"schema": "something/else"}')
    foreign = run([sys.executable, "-m", "django_isolation.cli", "show", str(tmp_path / "other.json")], REPO)
    assert foreign.returncode == 2
    assert "is not a django-isolation/report/1 report" in foreign.output


def test_the_header_shows_under_pytest_quiet() -> None:
    result = run_pytest(REPO, "-q", "--isolation-check", "testproject/demo/clean")
    assert result.returncode == 0, result.output
    assert result.output.startswith("django-isolation: checks "), result.output


def test_cli_show_piped_into_head_ends_without_a_traceback(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    manage_test(REPO, "--isolation-report", str(report), "testproject.demo.polluted")
    data = json.loads(report.read_text())
    data["findings"] *= 2000  # far more than a pipe holds: head leaves while show still writes
    report.write_text(json.dumps(data))
    command = f"{shlex.quote(sys.executable)} -m django_isolation.cli show {shlex.quote(str(report))} | head -1"
    done = subprocess.run(command, shell=True, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.startswith("1 polluter(s)"), done.stdout
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr


def test_help_texts_are_plain_text() -> None:
    """No reST markup (``literal``, :role:) in what --help prints, on the CLI and both fronts."""
    helps = [
        run([sys.executable, "-m", "django_isolation.cli", "--help"], REPO),
        run([sys.executable, "-m", "django_isolation.cli", "gate", "--help"], REPO),
        manage_test(REPO, "--help"),
        run_pytest(REPO, "--help"),
    ]
    for shown in helps:
        assert shown.returncode == 0, shown.output
        isolation = [line for line in shown.output.splitlines() if "isolation" in line.lower()]
        assert isolation, shown.output
        assert not [line for line in isolation if "``" in line or re.search(r":\w+:`", line)], isolation


THIRD_PARTY_CHECK = """\
from django_isolation.checks import Change, register

REGISTERED = []


@register
class RegistryCheck:
    name = "scenario_registry"

    def start(self): pass
    def stop(self): pass
    def fingerprint(self, sweep): return len(REGISTERED)
    def capture(self): return list(REGISTERED)

    def diff(self, baseline, current):
        return [
            Change(key=item, token=item, summary=f"{item} registered", before=None, after=item, advice="unregister it")
            for item in current if item not in baseline
        ]
"""
THIRD_PARTY_LEAK = """
    from django.test import SimpleTestCase

    import scenario_check


    class RegisteringTests(SimpleTestCase):
        def test_registers(self):
            scenario_check.REGISTERED.append("plugin")
"""


def test_a_check_declared_by_an_installed_distribution_runs_by_default(scenario: Scenario) -> None:
    (scenario.root / "scenario_check.py").write_text(THIRD_PARTY_CHECK)
    scenario.write("test_registers.py", THIRD_PARTY_LEAK)
    undeclared = scenario.run(checks="default")
    assert "scenario_registry" not in undeclared.report["checks"]  # type: ignore[index]
    declared = scenario.root / "scenario_check-1.0.dist-info"
    declared.mkdir()
    (declared / "METADATA").write_text("Metadata-Version: 2.1\nName: scenario-check\nVersion: 1.0\n")
    (declared / "entry_points.txt").write_text("[django_isolation.checks]\nregistry = scenario_check\n")
    run = scenario.run(checks="default")
    assert "scenario_registry" in run.report["checks"]  # type: ignore[index]
    [finding] = [f for f in run.findings if f["check"] == "scenario_registry"]
    assert finding["test"] == scenario.test_id("test_registers", "RegisteringTests", "test_registers")
    assert finding["summary"] == "plugin registered"
