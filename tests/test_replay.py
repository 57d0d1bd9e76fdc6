"""``--isolation-replay FILE`` on both fronts: exactly the listed tests, in that order, past every reordering."""

from __future__ import annotations

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
