"""``--isolation-replay FILE`` on both fronts: exactly the listed tests, in that order, past every reordering."""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import Scenario

TESTS = """
    import unittest

    from django.test import TestCase, TransactionTestCase


    class PlainTests(unittest.TestCase):
        def test_plain(self):
            pass


    class TransactionalTests(TransactionTestCase):
        def test_transactional(self):
            pass


    class DatabaseTests(TestCase):
        def test_database(self):
            pass

        def test_not_listed(self):
            pass
"""


def test_the_listed_tests_run_in_the_listed_order(scenario: Scenario) -> None:
    scenario.write("test_order.py", TESTS)
    listed = [
        scenario.test_id("test_order", "PlainTests", "test_plain"),  # each runner would run it last
        scenario.test_id("test_order", "TransactionalTests", "test_transactional"),
        scenario.test_id("test_order", "DatabaseTests", "test_database"),  # and this one first
    ]
    replay = scenario.root / "replay.txt"
    replay.write_text("# cut down by hand\n" + "\n".join(listed) + "\n\n")
    run = scenario.run("--isolation-replay", str(replay))
    assert run.returncode == 0, run.output
    assert run.report is not None and run.report["order"]["main"] == listed


def test_a_listed_test_that_is_not_collected_stops_the_run(scenario: Scenario) -> None:
    scenario.write("test_order.py", TESTS)
    missing = scenario.test_id("test_order", "PlainTests", "test_renamed")
    replay = scenario.root / "replay.txt"
    replay.write_text(f"{missing}\n")
    run = scenario.run("--isolation-replay", str(replay))
    assert run.returncode != 0 and run.report is None, run.output
    assert f"--isolation-replay: not among the collected tests: {missing}" in run.output


def test_a_reports_order_replays_as_it_ran(scenario: Scenario) -> None:
    scenario.write("test_order.py", TESTS)
    first = scenario.run("--isolation-replay", str(scenario.root / "missing.txt"))
    assert first.returncode != 0 and "cannot read" in first.output, first.output
    recorded = scenario.run()
    assert recorded.report is not None, recorded.output
    report = scenario.root / "recorded.json"
    scenario.report_path.rename(report)
    replayed = scenario.run(f"--isolation-replay={report}")
    assert replayed.report is not None, replayed.output
    assert replayed.report["order"]["main"] == recorded.report["order"]["main"]


def test_a_workers_order_replays_in_one_process(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_order.py", TESTS)
    scenario.write("test_other.py", "def test_elsewhere():\n    pass\n")
    recorded = scenario.run("-n", "2", "--dist", "loadfile")
    assert recorded.report is not None, recorded.output
    report = scenario.root / "recorded.json"
    scenario.report_path.rename(report)
    worker, order = next((w, tests) for w, tests in recorded.report["order"].items() if len(tests) > 1)
    replayed = scenario.run(f"--isolation-replay={report}@{worker}")
    assert replayed.report is not None and replayed.report["order"]["main"] == order, replayed.output
    unnamed = scenario.run(f"--isolation-replay={report}")
    assert unnamed.returncode != 0 and "holds the orders of" in unnamed.output, unnamed.output
