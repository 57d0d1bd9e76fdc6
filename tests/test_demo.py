"""The demo (the Flagsmith #7368 story) through both fronts: polluter, line, app label and victim."""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import REPO, Run, manage_test, run_pytest

from django_isolation.checks import BUILTIN_DEFAULTS
from django_isolation.options import EXIT_LEAKS_ONLY

POLLUTER_FILE = "testproject/demo/polluted/test_app_routers.py"
POLLUTER_LINE = 11
TEST_NAME = "test_analytics_models_are_routed_to_the_analytics_database"
VICTIM_NAME = "test_models_and_migrations_are_in_sync"
IDS = {
    "django": (
        f"testproject.demo.polluted.test_app_routers.AnalyticsRouterTests.{TEST_NAME}",
        f"testproject.demo.polluted.test_migrations_check.MigrationsCheckTests.{VICTIM_NAME}",
    ),
    "pytest": (
        f"{POLLUTER_FILE}::AnalyticsRouterTests::{TEST_NAME}",
        f"testproject/demo/polluted/test_migrations_check.py::MigrationsCheckTests::{VICTIM_NAME}",
    ),
}


def run_demo(runner: str, suite: str, *args: str, report: Path | None = None) -> Run:
    if runner == "django":
        return manage_test(REPO, *args, f"testproject.demo.{suite}", report=report)
    return run_pytest(REPO, "-p", "no:randomly", *args, f"testproject/demo/{suite}", report=report)


@pytest.mark.parametrize("runner", ["django", "pytest"])
def test_polluted_demo_names_the_polluter_its_line_and_its_victim(runner: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = run_demo(runner, "polluted", "--isolation-check", "--isolation-report", str(report), report=report)
    polluter, victim = IDS[runner]
    assert run.returncode == 1, run.output  # the victim fails, as without the tool
    found = {f["check"]: f for f in run.findings}
    assert set(found) == {"apps_registry", "migration_drift"}  # the phantom model, and the migration it would make
    assert {f["test"] for f in run.findings} == {polluter}
    drift = found["migration_drift"]
    assert drift["summary"].startswith("makemigrations would now write for analytics: ")  # "+" or "-" by Django version
    assert drift["summary"].endswith(" Create model AnalyticsModel")
    finding = found["apps_registry"]
    assert finding["details"]["app_label"] == "analytics"
    assert finding["details"]["model"] == "AnalyticsModel"
    assert finding["details"]["installed_app"] is True
    assert finding["origin"][0] == {"file": POLLUTER_FILE, "line": POLLUTER_LINE, "function": TEST_NAME}
    assert [frame["file"] for frame in finding["origin"]] == [POLLUTER_FILE]  # no manage.py, no bin/pytest
    assert "isolate_apps" in finding["advice"]
    assert run.victims == {victim: [polluter]}
    assert run.report is not None and run.report["order"] == {"main": [polluter, victim]}
    assert run.report["failed"] == {"main": [victim]}
    assert run.report["runner"] == runner
    assert f"POLLUTER {polluter}" in run.output
    assert f"created at {POLLUTER_FILE}:{POLLUTER_LINE} in {TEST_NAME}" in run.output
    assert f"VICTIM {victim}" in run.output


@pytest.mark.parametrize("runner", ["django", "pytest"])
def test_clean_demo_reports_nothing(runner: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = run_demo(runner, "clean", "--isolation-check", "--isolation-report", str(report), report=report)
    assert run.returncode == 0, run.output
    assert run.findings == []
    assert run.victims == {}
    assert len(run.report["order"]["main"]) == 2  # type: ignore[index]
    assert run.report["failed"] == {"main": []}  # type: ignore[index]
    assert "0 polluter(s), 0 leak(s), 0 possible victim(s)" in run.output


@pytest.mark.parametrize("runner", ["django", "pytest"])
@pytest.mark.parametrize(("suite", "status"), [("polluted", 1), ("clean", 0)])
def test_without_the_option_nothing_changes(runner: str, suite: str, status: int) -> None:
    run = run_demo(runner, suite)
    assert run.returncode == status, run.output
    assert "django-isolation:" not in run.output  # no header
    assert "django-isolation report" not in run.output


@pytest.mark.parametrize("runner", ["django", "pytest"])
def test_fail_mode_errors_the_polluter(runner: str) -> None:
    run = run_demo(runner, "polluted", "--isolation-fail")
    assert run.returncode == 1, run.output  # the victim's real failure keeps the ordinary status
    assert "IsolationLeak: [apps_registry] model analytics.AnalyticsModel added" in run.output
    if runner == "django":
        assert "FAILED (failures=1, errors=1)" in run.output
    else:
        assert "1 failed, 1 passed, 1 error" in run.output


@pytest.mark.parametrize("runner", ["django", "pytest"])
def test_fail_mode_exits_6_when_leaks_are_the_only_failures(runner: str) -> None:
    if runner == "django":
        run = manage_test(REPO, "--isolation-fail", "testproject.demo.polluted.test_app_routers")
    else:
        run = run_pytest(REPO, "-p", "no:randomly", "--isolation-fail", POLLUTER_FILE)
    assert run.returncode == EXIT_LEAKS_ONLY, run.output


@pytest.mark.parametrize("runner", ["django", "pytest"])
def test_fail_mode_on_a_clean_suite_stays_green(runner: str) -> None:
    run = run_demo(runner, "clean", "--isolation-fail")
    assert run.returncode == 0, run.output
    assert f"django-isolation: checks {', '.join(BUILTIN_DEFAULTS)}; on by --isolation-fail; leaks fail the run" in run.output


def test_reverse_order_reports_the_leak_without_a_victim(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = manage_test(
        REPO, "--reverse", "--isolation-report", str(report), "testproject.demo.polluted", report=report
    )
    polluter, victim = IDS["django"]
    assert run.returncode == 0, run.output
    assert run.polluters == [polluter]
    assert run.victims == {}
    assert run.report is not None and run.report["order"] == {"main": [victim, polluter]}


def test_shuffle_and_keepdb_record_the_order_that_ran(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    args = ("--shuffle", "7", "--keepdb", "--isolation-report", str(report), "testproject.demo.polluted")
    run = manage_test(REPO, *args, report=report)
    assert "Using shuffle seed: 7" in run.output
    assert run.polluters == [IDS["django"][0]]
    assert run.report is not None and sorted(run.report["order"]["main"]) == sorted(IDS["django"])


def test_random_order_under_pytest_randomly_is_recorded(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    args = ("-p", "randomly", "--randomly-seed=3", "-v", "--isolation-report", str(report))
    run = run_pytest(REPO, *args, "testproject/demo/polluted", report=report)
    assert "Using --randomly-seed=3" in run.output
    ran = [line.split(" ")[0] for line in run.output.splitlines() if line.startswith("testproject/") and "::" in line]
    assert run.report is not None and run.report["order"] == {"main": ran}
    assert run.polluters == [IDS["pytest"][0]]
    polluter_first = ran[0] == IDS["pytest"][0]
    assert run.victims == ({IDS["pytest"][1]: [IDS["pytest"][0]]} if polluter_first else {})


def test_polluted_demo_report_is_the_same_story_under_keyword_selection(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = run_pytest(
        REPO, "-p", "no:randomly", "-k", "routed", "--isolation-report", str(report), "testproject/demo", report=report
    )
    assert run.returncode == 0, run.output
    assert run.polluters == [IDS["pytest"][0]]
    assert run.report is not None and len(run.report["order"]["main"]) == 2  # polluted and clean router tests
