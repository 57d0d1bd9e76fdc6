"""manage.py test --parallel 2: each worker process checks its own tests on its own database clone; one report.

Runs on SQLite or PostgreSQL (Django's per-worker clones), as DATABASE_URL says.
"""

from __future__ import annotations

from pathlib import Path

from runs import Scenario, manage_test

TESTS = """
    import unittest

    from django.apps import apps
    from django.contrib.auth.models import Group
    from django.db import models
    from django.test import SimpleTestCase, TestCase


    class PairTests(SimpleTestCase):  # one class: one worker, the polluter first
        def test_a_defines_a_model_inline(self):
            class AnalyticsModel(models.Model):
                class Meta:
                    app_label = "analytics"

        def test_b_no_model_is_left_in_analytics(self):
            names = sorted(model.__name__ for model in apps.get_app_config("analytics").get_models())
            self.assertEqual(names, ["PageView"], "AnalyticsModel leaked?")


    class RowTests(unittest.TestCase):
        def test_leaves_a_group(self):
            Group.objects.create(name="left in the worker's clone")


    class CleanTests(TestCase):
        def test_clean(self):
            Group.objects.create(name="rolled back")
"""

POLLUTER_ONLY = """
    from django.db import models
    from django.test import SimpleTestCase


    class PolluterTests(SimpleTestCase):
        def test_defines_a_model_inline(self):
            class AnalyticsModel(models.Model):
                class Meta:
                    app_label = "analytics"


    class CleanTests(SimpleTestCase):
        def test_clean(self):
            pass
"""


def test_each_worker_checks_its_own_tests_and_one_report_merges_them(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_parallel.py", TESTS)
    result = scenario.run("--parallel", "2")
    assert result.returncode == 1, result.output  # the victim fails, as without the toolkit
    report = result.report
    assert report is not None, result.output
    assert len(report["order"]) == 2 and set(report["workers"].values()) == {"finished"}
    pair = "scenario.test_parallel.PairTests"
    [worker] = [name for name, tests in report["order"].items() if f"{pair}.test_a_defines_a_model_inline" in tests]
    order = report["order"][worker]
    assert order.index(f"{pair}.test_b_no_model_is_left_in_analytics") == order.index(f"{pair}.test_a_defines_a_model_inline") + 1
    [victim] = report["victims"]
    assert (victim["test"], victim["worker"], victim["suspects"]) == (
        f"{pair}.test_b_no_model_is_left_in_analytics",
        worker,
        [f"{pair}.test_a_defines_a_model_inline"],
    )
    rows = [f for f in report["findings"] if f["check"] == "db_rows"]
    assert [(f["test"], f["details"]["table"]) for f in rows] == [
        ("scenario.test_parallel.RowTests.test_leaves_a_group", "auth_group")  # read in that worker's clone
    ]
    assert report["check_errors"] == []
    assert f"VICTIM {pair}.test_b_no_model_is_left_in_analytics (worker {worker}) failed near these leaks:" in result.output


def test_isolation_fail_exits_10_when_leaks_are_the_only_failures(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_parallel.py", POLLUTER_ONLY)
    result = scenario.run("--parallel", "2", "--isolation-fail")
    assert result.returncode == 10, result.output
    assert "IsolationLeak: [apps_registry] model analytics.AnalyticsModel added" in result.output


def test_parallel_1_is_a_serial_run(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_parallel.py", POLLUTER_ONLY)
    result = scenario.run("--parallel", "1")
    assert result.returncode == 0, result.output
    assert result.report is not None and list(result.report["order"]) == ["main"] and "workers" not in result.report


def test_a_replay_needs_one_process(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_parallel.py", POLLUTER_ONLY)
    replay = tmp_path / "replay.txt"
    replay.write_text("scenario.test_parallel.CleanTests.test_clean\n")
    result = manage_test(tmp_path, "--parallel", "2", f"--isolation-replay={replay}", "scenario")
    assert result.returncode != 0
    assert "--isolation-replay runs the tests in one process: use --parallel 1" in result.output


APART = """
    import time

    from django.db import models
    from django.test import SimpleTestCase


    class PolluterTests(SimpleTestCase):
        def test_defines_a_model_inline(self):
            class AnalyticsModel(models.Model):
                class Meta:
                    app_label = "analytics"

            time.sleep(1)  # the other worker takes the other class meanwhile


    class ElsewhereTests(SimpleTestCase):
        def test_fails_naming_the_model(self):
            self.fail("AnalyticsModel is not what this test expected")
"""


def test_a_failure_is_linked_only_to_leaks_of_its_own_worker(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_parallel.py", APART)
    result = scenario.run("--parallel", "2")
    assert result.returncode == 1, result.output
    report = result.report
    assert report is not None, result.output
    polluter = "scenario.test_parallel.PolluterTests.test_defines_a_model_inline"
    failing = "scenario.test_parallel.ElsewhereTests.test_fails_naming_the_model"
    assert {f["test"] for f in report["findings"]} == {polluter}  # reported wherever it ran
    [on_polluter] = [worker for worker, tests in report["order"].items() if polluter in tests]
    [on_failing] = [worker for worker, tests in report["order"].items() if failing in tests]
    after_it = on_polluter == on_failing and report["order"][on_failing].index(failing) > 0
    suspects = {victim["test"]: victim["suspects"] for victim in report["victims"]}
    assert suspects.get(failing) == ([polluter] if after_it else None), (report["order"], suspects)
