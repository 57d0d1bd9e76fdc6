"""``django-isolation find-polluter`` through real runs of both runners, on SQLite or PostgreSQL: from a report and a
victim to the test(s) that make it fail, by exact replay; each printed reproduction command is run and fails."""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
from typing import Any

import pytest
from runs import KEPT_DATABASE_SETTINGS, Run, Scenario, left_test_database, run

SETTINGS = "kept_settings"

# The polluters here change state no check watches (an attribute of a stdlib module): only replay finds them.
BLIND = """
    import json
    import unittest

    from django.contrib.auth.models import User
    from django.test import TestCase


    class DatabaseTests(TestCase):
        def test_query(self):
            self.assertEqual(User.objects.count(), 0)


    class PollutionTests(unittest.TestCase):
        def test_01(self):
            pass

        def test_02(self):
            pass

        def test_03(self):
            pass

        def test_04_polluter(self):
            json.scenario_flag = True

        def test_05(self):
            pass

        def test_06(self):
            pass

        def test_07(self):
            pass

        def test_08_victim(self):
            self.assertFalse(hasattr(json, "scenario_flag"))
"""


def pollution_tests(*bodies: tuple[str, str], imports: str = "import json") -> str:
    """A module of one ``unittest.TestCase``, ``PollutionTests``, with a test per (name, body), run in that order."""
    methods = "".join(f"\n    def {name}(self):\n        {body}\n" for name, body in bodies)
    return f"import unittest\n{imports}\n\n\nclass PollutionTests(unittest.TestCase):{methods}"


def passing(*names: str) -> list[tuple[str, str]]:
    return [(name, "pass") for name in names]


def find_polluter(scenario: Scenario, victim: str, *options: str, **env: str) -> tuple[Run, dict[str, Any]]:
    """Run the command on `scenario`'s report; return the run and its JSON line (empty if none)."""
    command = [sys.executable, "-m", "django_isolation.cli", "find-polluter", "--report", str(scenario.report_path)]
    command += ["--output", str(scenario.root / "polluter"), "--json", *options, victim]
    done = run(command, scenario.root, DJANGO_SETTINGS_MODULE=SETTINGS, **env)
    lines = [line for line in done.output.splitlines() if line.startswith('{"victim"')]  # stdout's last line
    return done, json.loads(lines[-1]) if lines else {}


def recorded(scenario: Scenario, source: str, *args: str, **env: str) -> Run:
    """Write `source` as ``scenario/test_pollution.py`` and run it once with a report (the run to explain)."""
    (scenario.root / f"{SETTINGS}.py").write_text(textwrap.dedent(KEPT_DATABASE_SETTINGS))
    scenario.write("test_pollution.py", source)
    return scenario.run(*args, checks="all", settings=SETTINGS, **env)


def case_id(scenario: Scenario, name: str, case: str = "PollutionTests") -> str:
    return scenario.test_id("test_pollution", case, name)


def assert_reproduces(scenario: Scenario, result: dict[str, Any]) -> None:
    """The printed command, run as printed, shows the victim failing."""
    done = run(shlex.split(result["reproduce"]), scenario.root, DJANGO_SETTINGS_MODULE=SETTINGS)
    assert done.returncode != 0, done.output
    assert result["victim"].rpartition(".")[2].rpartition(":")[2] in done.output


def assert_runs_keep_the_order_of(scenario: Scenario, order: list[str]) -> None:
    """Every run replayed tests of `order` (one worker's) in its relative order (the victim, last there, last)."""
    for replay in sorted((scenario.root / "polluter").glob("run-*/replay.txt")):
        tests = replay.read_text().split()
        assert tests == sorted(tests, key=order.index) and order.index(tests[-1]) > max(
            map(order.index, tests[:-1]), default=-1
        )


def test_a_polluter_no_check_watches_is_found_by_bisection(scenario: Scenario) -> None:
    original = recorded(scenario, BLIND)
    victim = case_id(scenario, "test_08_victim")
    assert victim in original.report["failed"]["main"] and not original.victims, original.output  # type: ignore[index]
    done, result = find_polluter(scenario, victim)
    assert done.returncode == 0, done.output
    assert result["polluters"] == [case_id(scenario, "test_04_polluter")], done.output
    prefix = len(original.report["order"]["main"]) - 1  # type: ignore[index]
    # The victim alone, one run per half, and one for the test it ends on if no run showed it: ceil(log2 N) + 2.
    most = 1 + (prefix - 1).bit_length() + 1
    assert result["runs"] <= most and f"run 1 of at most {most}: the victim after 0 test(s)" in done.output
    assert "found 1 polluter(s) by bisection" in done.output
    assert (scenario.root / "polluter" / "server.log").exists()  # one process loaded the tests; children ran them
    assert not left_test_database(scenario.root), "find-polluter left the test database behind"
    assert_reproduces(scenario, result)


def test_without_fork_each_run_is_a_new_process(scenario: Scenario) -> None:
    recorded(scenario, BLIND)
    done, result = find_polluter(scenario, case_id(scenario, "test_08_victim"), "--no-fork")
    assert done.returncode == 0 and result["polluters"] == [case_id(scenario, "test_04_polluter")], done.output
    output = scenario.root / "polluter"
    assert not (output / "server.log").exists() and (output / "drop" / "output.log").exists()
    assert len(list(output.glob("run-*/output.log"))) == result["runs"]
    assert not left_test_database(scenario.root), "find-polluter left the test database behind"


def test_the_reports_suspect_is_tried_first(scenario: Scenario) -> None:
    source = pollution_tests(
        *passing("test_01"),
        ("test_02_polluter", 'os.environ["SCENARIO_FLAG"] = "1"'),
        *passing("test_03", "test_04"),
        ("test_05_victim", 'self.assertIsNone(os.environ.get("SCENARIO_FLAG"), "SCENARIO_FLAG is set")'),
        imports="import os",
    )
    original = recorded(scenario, source)
    victim, polluter = case_id(scenario, "test_05_victim"), case_id(scenario, "test_02_polluter")
    assert original.victims == {victim: [polluter]}, original.output
    done, result = find_polluter(scenario, victim)
    assert done.returncode == 0, done.output
    assert result["polluters"] == [polluter] and result["runs"] == 2, done.output
    assert "by the report's suspect" in done.output
    assert_reproduces(scenario, result)


def test_two_tests_that_only_pollute_together_are_found_by_delta_debugging(scenario: Scenario) -> None:
    source = pollution_tests(
        *passing("test_01"),
        ("test_02_half", "json.scenario_half = 1"),
        *passing("test_03", "test_04"),
        ("test_05_other_half", "json.scenario_other_half = 1"),
        *passing("test_06"),
        ("test_07_victim", 'self.assertFalse(hasattr(json, "scenario_half") and hasattr(json, "scenario_other_half"))'),
    )
    recorded(scenario, source)
    done, result = find_polluter(scenario, case_id(scenario, "test_07_victim"))
    assert done.returncode == 0, done.output
    assert result["polluters"] == [case_id(scenario, "test_02_half"), case_id(scenario, "test_05_other_half")]
    assert "by delta debugging" in done.output
    assert_reproduces(scenario, result)


def test_a_cleaner_between_polluter_and_victim_does_not_mislead_the_search(scenario: Scenario) -> None:
    # test_01 pollutes too, but test_02 undoes it: the victim failed because of test_04, and that is what is found.
    source = pollution_tests(
        ("test_01_cleaned_polluter", "json.scenario_flag = True"),
        ("test_02_cleaner", "del json.scenario_flag"),
        *passing("test_03"),
        ("test_04_polluter", "json.scenario_flag = True"),
        *passing("test_05"),
        ("test_06_victim", 'self.assertFalse(hasattr(json, "scenario_flag"))'),
    )
    recorded(scenario, source)
    done, result = find_polluter(scenario, case_id(scenario, "test_06_victim"))
    assert done.returncode == 0, done.output
    assert result["polluters"] == [case_id(scenario, "test_04_polluter")], done.output
    assert_reproduces(scenario, result)


def test_a_brittle_tests_state_setter_is_found(scenario: Scenario) -> None:
    source = pollution_tests(
        *passing("test_01", "test_02"),
        ("test_03_state_setter", "json.scenario_ready = True"),
        *passing("test_04", "test_05"),
        ("test_06_brittle", 'self.assertTrue(getattr(json, "scenario_ready", False))'),
    )
    original = recorded(scenario, source)
    assert original.returncode == 0, original.output
    done, result = find_polluter(scenario, case_id(scenario, "test_06_brittle"), "--brittle")
    assert done.returncode == 0, done.output
    assert result["polluters"] == [case_id(scenario, "test_03_state_setter")], done.output
    assert f"state-setter: {case_id(scenario, 'test_03_state_setter')}" in done.output
    reproduced = run(shlex.split(result["reproduce"]), scenario.root, DJANGO_SETTINGS_MODULE=SETTINGS)
    assert reproduced.returncode == 0, reproduced.output  # the state-setter first: the brittle test passes


def test_a_victim_that_fails_alone_is_not_order_dependent(scenario: Scenario) -> None:
    source = pollution_tests(*passing("test_01"), ("test_02_victim", 'self.fail("always")'))
    recorded(scenario, source)
    done, result = find_polluter(scenario, case_id(scenario, "test_02_victim"))
    assert done.returncode == 3 and result["status"] == 3 and result["polluters"] == [], done.output
    assert "the victim fails alone: its failure does not depend on the tests before it" in done.output


def test_a_failure_that_does_not_reproduce_in_one_process_says_so(scenario: Scenario) -> None:
    source = pollution_tests(
        *passing("test_01"),
        ("test_02_victim", 'self.assertIsNone(os.environ.get("SCENARIO_OUTSIDE"))'),
        imports="import os",
    )
    recorded(scenario, source, SCENARIO_OUTSIDE="1")  # outside state only the recorded run had
    done, result = find_polluter(scenario, case_id(scenario, "test_02_victim"))
    assert done.returncode == 4 and result["status"] == 4 and not result["reproduce"], done.output
    assert "passes after the 1 test(s) that ran before it in its process" in done.output


def test_a_victim_missing_from_the_report_is_a_usage_error(scenario: Scenario) -> None:
    recorded(scenario, BLIND)
    done, _ = find_polluter(scenario, case_id(scenario, "test_renamed"))
    assert done.returncode == 2 and "is not in the report's order" in done.output, done.output


@pytest.mark.parametrize("scenario", ["pytest"], indirect=True)
def test_a_victim_on_an_xdist_worker_replays_that_workers_order(scenario: Scenario) -> None:
    pytest.importorskip("xdist")
    scenario.write("test_other.py", "def test_elsewhere():\n    pass\n")
    recorded(scenario, BLIND, "-n", "2", "--dist", "loadfile")
    assert scenario.report_path.exists()
    report = json.loads(scenario.report_path.read_text())
    victim = case_id(scenario, "test_08_victim")
    worker = next(name for name, tests in report["order"].items() if victim in tests)
    assert worker.startswith("gw"), report["order"]
    done, result = find_polluter(scenario, victim)
    assert done.returncode == 0, done.output
    assert result["polluters"] == [case_id(scenario, "test_04_polluter")], done.output
    assert_runs_keep_the_order_of(scenario, report["order"][worker])
    other = next(name for name in report["order"] if name != worker)
    wrong, _ = find_polluter(scenario, victim, "--worker", other)
    assert wrong.returncode == 2 and f"did not run on worker {other}" in wrong.output, wrong.output


@pytest.mark.parametrize("scenario", ["django"], indirect=True)
def test_a_victim_on_a_parallel_worker_replays_that_workers_order(scenario: Scenario) -> None:
    scenario.write(
        "test_other.py",
        "import unittest\n\n\nclass OtherTests(unittest.TestCase):\n    def test_elsewhere(self):\n        pass\n",
    )
    recorded(scenario, BLIND, "--parallel", "2")
    report = json.loads(scenario.report_path.read_text())
    victim = case_id(scenario, "test_08_victim")
    worker = next(name for name, tests in report["order"].items() if victim in tests)
    assert worker != "main" and len(report["order"]) == 2, report["order"]
    done, result = find_polluter(scenario, victim)
    assert done.returncode == 0, done.output
    assert result["polluters"] == [case_id(scenario, "test_04_polluter")], done.output
    assert_runs_keep_the_order_of(scenario, report["order"][worker])
    assert_reproduces(scenario, result)
