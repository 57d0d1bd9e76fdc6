"""find-polluter's search against a model of the victim (no process is started): what it finds, in how many runs.

The real runs are in ``test_find_polluter.py``; here every position and shape a suite can have is cheap to try.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from django_isolation import polluter

Oracle = Callable[[Sequence[str]], bool]  # the tests before the victim -> it fails


class ModelTrials(polluter.Trials):
    """Trials judged by `oracle` instead of a run."""

    def __init__(self, oracle: Oracle) -> None:
        super().__init__(front=None, victim="victim", cwd=".", output=Path("."), progress=lambda line: None)  # type: ignore[arg-type]
        self.oracle = oracle

    def _run(self, tests: list[str]) -> bool:
        self.runs += 1
        return self.oracle(tests)


def search(tests: int, oracle: Oracle, brittle: bool = False) -> tuple[polluter.Result, int]:
    trials = ModelTrials(oracle)
    result = polluter.find(polluter.Search(trials, [f"t{index}" for index in range(tests)], brittle), [])
    return result, trials.runs


def needs(*culprits: str) -> Oracle:
    return lambda tests: set(culprits) <= set(tests)


@pytest.mark.parametrize("tests", [1, 2, 7, 1000, 5000])
def test_one_polluter_takes_at_most_log2_n_plus_2_runs_wherever_it_is(tests: int) -> None:
    for position in sorted({0, tests // 3, tests // 2, tests - 1}):
        result, runs = search(tests, needs(f"t{position}"))
        assert result.polluters == [f"t{position}"] and result.status == polluter.EXIT_FOUND
        assert runs <= math.ceil(math.log2(tests)) + 2, (position, runs)


@pytest.mark.parametrize(("first", "second"), [(250, 666), (10, 20), (600, 900), (0, 999)])
def test_two_polluters_that_only_fail_together(first: int, second: int) -> None:
    result, runs = search(1000, needs(f"t{first}", f"t{second}"))
    assert result.polluters == [f"t{first}", f"t{second}"], result
    assert runs <= 6 * math.ceil(math.log2(1000)) + 6, runs  # bisection, the pair, then one test a round


def test_three_polluters_together_are_found_one_a_round() -> None:
    result, _ = search(300, needs("t5", "t150", "t290"))
    assert result.polluters == ["t5", "t150", "t290"]


def test_a_cleaned_polluter_is_not_taken_for_the_one_that_failed_the_victim() -> None:
    def victim_fails(tests: Sequence[str]) -> bool:
        polluted = False
        for test in tests:
            polluted = (polluted or test in ("t1", "t60")) and test != "t40"  # t40 cleans up after t1
        return polluted

    result, _ = search(100, victim_fails)
    assert result.polluters in (["t1"], ["t60"]) and victim_fails(result.polluters)


def test_a_state_setter_of_a_brittle_test() -> None:
    result, runs = search(1000, lambda tests: "t321" not in tests, brittle=True)
    assert result.polluters == ["t321"] and runs <= math.ceil(math.log2(1000)) + 2


def test_not_order_dependent_and_not_reproducible() -> None:
    assert search(10, lambda tests: True)[0].status == polluter.EXIT_NOT_ORDER_DEPENDENT
    assert search(10, lambda tests: False)[0].status == polluter.EXIT_NOT_REPRODUCIBLE


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["tests", "-n", "4", "--dist=loadfile", "-x", "--ds=s"], ["tests", "--ds=s"]),
        (["-n4", "--isolation-report", "r.json", "--isolation-check", "-k", "x"], ["-k", "x"]),
        (["app", "--parallel", "--reverse", "--shuffle", "12", "--settings", "s"], ["app", "--settings", "s"]),
        (["--parallel", "auto", "app", "--shuffle", "app2"], ["app", "app2"]),
    ],
)
def test_the_recorded_options_a_trial_leaves_out(argv: list[str], kept: list[str]) -> None:
    dropped = {**polluter.PYTEST_DROPPED, **polluter.DJANGO_DROPPED}
    assert polluter.kept_arguments(argv, dropped) == kept


def test_a_cleaner_seen_undoing_the_polluter_is_reported() -> None:
    # t9 leaves state the victim trips on and t18 removes it; t11 and t36 fail the victim together (the recorded
    # failure): the search finds t9, and saw a run where t18 after it let the victim pass.
    def victim_fails(tests: Sequence[str]) -> bool:
        state: set[str] = set()
        for test in tests:
            state = {*state, "leak"} if test == "t9" else state - {"leak"} if test == "t18" else state
            state |= {"half"} if test == "t11" else {"other half"} if test == "t36" else set()
        return "leak" in state or {"half", "other half"} <= state

    result, _ = search(40, victim_fails)
    assert result.polluters == ["t9"] and result.cleaners == ["t18"], result
