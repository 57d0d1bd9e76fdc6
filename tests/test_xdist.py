"""pytest-xdist: each worker checks its own tests, the controller merges; victims are linked per worker only;
``django-isolation merge`` joins the reports of split CI jobs.

Real ``pytest -n 2`` runs on SQLite or PostgreSQL (pytest-django's per-worker test databases), as DATABASE_URL says.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from runs import Run, Scenario, run, run_pytest

POLLUTER = """
    from django.db import models


    def test_a_defines_a_model_inline():
        class AnalyticsModel(models.Model):
            class Meta:
                app_label = "analytics"
"""

VICTIM = """
    from django.apps import apps


    def test_b_no_model_is_left_in_analytics():
        names = sorted(model.__name__ for model in apps.get_app_config("analytics").get_models())
        assert names == ["PageView"], f"analytics holds {names}, not only PageView: AnalyticsModel leaked?"
"""

ALWAYS_FAILS = """
    import pytest
    from django.contrib.auth.models import Group


    def test_c_fails_naming_the_model():
        assert False, "AnalyticsModel is not what this test expected"


    @pytest.mark.django_db
    def test_d_writes_in_its_workers_own_database():
        Group.objects.create(name="rolled back")
"""


CLEAN_UNITTEST = """
    from django.test import SimpleTestCase


    class CleanTests(SimpleTestCase):
        def test_clean(self):
            pass
"""


def run_xdist(scenario: Scenario, *args: str) -> Run:
    """``pytest -n 2 --dist loadfile`` on the scenario package (a file a worker), every check on, a merged report."""
    report = scenario.report_path
    options = ["-p", "no:randomly", "-n", "2", "--dist", "loadfile", "--isolation-report", str(report), *args]
    return run_pytest(scenario.root, *options, "scenario", report=report)


def worker_of(report: dict[str, Any], test: str) -> str:
    [worker] = [worker for worker, tests in report["order"].items() if test in tests]
    return worker


def test_a_victim_is_linked_to_a_polluter_of_its_own_worker_only(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_a_pair.py", POLLUTER + VICTIM)  # one file: one worker, the polluter first
    scenario.write("test_c_elsewhere.py", ALWAYS_FAILS)
    result = run_xdist(scenario)
    assert result.returncode == 1, result.output
    report = result.report
    assert report is not None, result.output
    polluter = "scenario/test_a_pair.py::test_a_defines_a_model_inline"
    victim = "scenario/test_a_pair.py::test_b_no_model_is_left_in_analytics"
    elsewhere = "scenario/test_c_elsewhere.py::test_c_fails_naming_the_model"
    together, apart = worker_of(report, polluter), worker_of(report, elsewhere)
    assert worker_of(report, victim) == together != apart  # --dist loadfile: one worker a file
    assert set(report["order"]) == {"gw0", "gw1"} and report["workers"] == {"gw0": "finished", "gw1": "finished"}
    assert {(f["check"], f["test"], f["worker"]) for f in report["findings"]} == {
        ("apps_registry", polluter, together),
        ("migration_drift", polluter, together),
    }
    [linked] = report["victims"]  # the failure elsewhere names the model too, but no leak is live on its worker
    assert (linked["test"], linked["worker"], linked["suspects"]) == (victim, together, [polluter])
    assert report["failed"][apart] == [elsewhere] and elsewhere not in report["unexplained"]
    assert report["check_errors"] == []  # the database checks read each worker's own test database
    assert f"POLLUTER {polluter} (worker {together})" in result.output
    assert f"VICTIM {victim} (worker {together}) failed near these leaks:" in result.output


def test_isolation_fail_makes_the_polluter_error_on_its_worker(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_a_polluter.py", POLLUTER)
    scenario.write("test_clean.py", "def test_clean():\n    pass\n")
    result = run_xdist(scenario, "--isolation-fail", "--dist", "load")  # the last --dist wins
    assert result.returncode == 10, result.output  # leaks are the only failures
    assert "IsolationLeak: [apps_registry] model analytics.AnalyticsModel added" in result.output
    assert result.report is not None and len(result.report["findings"]) == 2


def test_a_worker_that_dies_is_named_and_the_others_are_merged(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_a_polluter.py", POLLUTER)
    scenario.write("test_dies.py", "import os\n\n\ndef test_dies():\n    os._exit(3)\n")
    result = run_xdist(scenario, "--max-worker-restart", "0")
    assert result.returncode != 0, result.output
    report = result.report
    assert report is not None, result.output
    lost = [worker for worker, ended in report["workers"].items() if ended.startswith("lost")]
    assert len(lost) == 1 and lost[0] != worker_of(report, "scenario/test_a_polluter.py::test_a_defines_a_model_inline")
    assert {f["check"] for f in report["findings"]} == {"apps_registry", "migration_drift"}
    assert f"WORKER {lost[0]} lost" in result.output


def test_without_workers_the_run_is_serial(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_a_polluter.py", POLLUTER)
    result = run_pytest(scenario.root, "-n", "0", "--isolation-report", str(scenario.report_path), "scenario",
                        report=scenario.report_path)
    assert result.returncode == 0, result.output
    assert result.report is not None and list(result.report["order"]) == ["main"] and "workers" not in result.report
    assert {f.get("worker") for f in result.report["findings"]} == {None}


def test_merge_joins_the_reports_of_split_ci_jobs(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_a_pair.py", POLLUTER + VICTIM)
    scenario.write("test_c_elsewhere.py", ALWAYS_FAILS)
    jobs = []
    for number, files in enumerate((["test_a_pair.py", "test_c_elsewhere.py"], ["test_a_pair.py"]), 1):
        report = tmp_path / f"job-{number}" / "isolation.json"
        paths = [f"scenario/{name}" for name in files]
        options = ["-p", "no:randomly", "-n", "2", "--dist", "loadfile", "--isolation-report", str(report)]
        run_pytest(scenario.root, *options, *paths, report=report)
        jobs.append(str(report))
    merged_path = tmp_path / "merged.json"
    merged = run([sys.executable, "-m", "django_isolation.cli", "merge", *jobs, "--output", str(merged_path)], tmp_path)
    assert merged.returncode == 1, merged.output  # it holds leaks
    data = json.loads(merged_path.read_text())
    assert data["jobs"] == ["job-1/isolation", "job-2/isolation"]
    assert {key.split("/")[0] for key in data["order"]} == {"job-1", "job-2"} and len(data["order"]) == 4
    polluter = "scenario/test_a_pair.py::test_a_defines_a_model_inline"
    assert [(f["check"], f["jobs"]) for f in data["findings"] if f["test"] == polluter] == [
        ("apps_registry", ["job-1/isolation", "job-2/isolation"]),  # the same leak, found by both jobs: once
        ("migration_drift", ["job-1/isolation", "job-2/isolation"]),
    ]
    assert sorted(victim["job"] for victim in data["victims"]) == ["job-1/isolation", "job-2/isolation"]
    assert f"POLLUTER {polluter} (worker " in merged.output and "jobs job-1/isolation, job-2/isolation)" in merged.output


def test_merge_refuses_reports_of_different_runners(tmp_path: Path) -> None:
    reports = []
    for runner in ("pytest", "django"):
        (tmp_path / runner).mkdir()
        scenario = Scenario(tmp_path / runner, runner)
        scenario.write("test_clean.py", CLEAN_UNITTEST)
        assert scenario.run().report is not None
        reports.append(str(scenario.report_path))
    done = run([sys.executable, "-m", "django_isolation.cli", "merge", *reports], tmp_path)
    assert done.returncode == 2
    assert "cannot merge: the reports come from different runners (django, pytest)" in done.output


@pytest.mark.parametrize(
    "options",
    [
        ("--dist", "loadscope"),
        ("--dist", "worksteal"),
        ("--dist", "loadfile", "-p", "randomly", "-p", "no:cacheprovider", "--reuse-db"),
    ],
    ids=["loadscope", "worksteal", "randomly-reuse-db"],
)
def test_other_distribution_modes_link_the_pair_of_one_file(tmp_path: Path, options: tuple[str, ...]) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_a_pair.py", POLLUTER + VICTIM)
    scenario.write("test_c_elsewhere.py", ALWAYS_FAILS)
    result = run_xdist(scenario, *options)
    report = result.report
    assert report is not None, result.output
    polluter = "scenario/test_a_pair.py::test_a_defines_a_model_inline"
    victim = "scenario/test_a_pair.py::test_b_no_model_is_left_in_analytics"
    assert {f["test"] for f in report["findings"]} == {polluter}
    same = worker_of(report, polluter) == worker_of(report, victim)
    ran_after = same and report["order"][worker_of(report, victim)].index(victim) > report["order"][
        worker_of(report, polluter)
    ].index(polluter)
    suspects = {victim["test"]: victim["suspects"] for victim in report["victims"]}
    assert suspects.get(victim) == ([polluter] if ran_after else None), (report["order"], suspects)
    assert report["check_errors"] == []
