"""The engine on its own, driven with small checks over a plain dict: no test runner involved."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from django_isolation.checks import Change
from django_isolation.engine import Engine, Scope
from django_isolation.evidence import Failure

SHARED: dict[str, str] = {}
TEST_A, TEST_B, CLASS = Scope("t.a", "test"), Scope("t.b", "test"), Scope("t.C", "class", "setUpClass")


class DictCheck:
    """Watches SHARED; counts how often the engine asked for a full capture."""

    name = "shared_dict"

    def __init__(self) -> None:
        self.captures = 0

    def start(self) -> None:
        SHARED.clear()

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        return tuple(sorted(SHARED.items()))

    def capture(self) -> dict[str, str]:
        self.captures += 1
        return dict(SHARED)

    def diff(self, baseline: dict[str, str], current: dict[str, str]) -> list[Change]:
        return [
            Change(key, value, f"{key} set", baseline.get(key), value, "restore it", subjects=(key,))
            for key, value in current.items()
            if baseline.get(key) != value
        ]


class BrokenCheck(DictCheck):
    """Takes its baseline, then raises at every check point once `broken` is set."""

    name = "broken"
    broken = False

    def fingerprint(self, sweep: bool) -> Hashable:
        if self.broken:
            raise RuntimeError("boom")
        return ()


class SweepingCheck(DictCheck):
    """Sees writes to SHARED through a counter at every point, and any write at sweeps."""

    name = "sweeping"
    writes = 0

    def fingerprint(self, sweep: bool) -> Hashable:
        return (self.writes, tuple(sorted(SHARED.items()))) if sweep else self.writes


def started(*checks: DictCheck) -> Engine:
    engine = Engine(list(checks), runner="test")
    engine.start()
    return engine


def test_change_is_a_leak_of_the_scope_that_made_it() -> None:
    engine = started(DictCheck())
    engine.test_started(TEST_A.id)
    SHARED["x"] = "1"
    engine.checkpoint(TEST_A)
    [leak] = engine.end_scope(TEST_A)
    assert (leak.test, leak.check, leak.summary) == ("t.a", "shared_dict", "x set")
    assert leak.details == {"before": None, "after": "1", "scope": "test"}


def test_change_restored_within_its_scope_is_no_leak() -> None:
    engine = started(DictCheck())
    SHARED["x"] = "1"
    engine.checkpoint(TEST_A)
    del SHARED["x"]
    engine.checkpoint(TEST_A)
    assert engine.end_scope(TEST_A) == []
    assert engine.finish().findings == []


def test_wider_scope_owns_its_setup_until_it_ends() -> None:
    engine = started(DictCheck())
    SHARED["x"] = "1"
    engine.checkpoint(CLASS)
    engine.checkpoint(TEST_A)
    assert engine.end_scope(TEST_A) == []
    [leak] = engine.end_scope(CLASS)
    assert leak.test == "t.C" and leak.details["fixture"] == "setUpClass"


def test_cleaner_and_victim_are_linked_to_the_leak() -> None:
    engine = started(DictCheck())
    engine.test_started(TEST_A.id)
    SHARED["xray"] = "1"
    engine.checkpoint(TEST_A)
    engine.end_scope(TEST_A)
    engine.test_started(TEST_B.id)
    engine.test_failed(TEST_B.id, Failure("KeyError: 'xray'", ()))
    del SHARED["xray"]
    engine.checkpoint(TEST_B)
    report = engine.finish()
    [victim] = report.victims
    assert (victim.test, victim.suspects, victim.leaks) == ("t.b", ("t.a",), ("shared_dict: xray set",))
    assert report.findings[0].details["cleaned_by"] == "t.b"
    assert report.order == {"main": ["t.a", "t.b"]}


def test_failure_with_no_live_leak_is_no_victim() -> None:
    engine = started(DictCheck())
    engine.test_started(TEST_A.id)
    engine.test_failed(TEST_A.id)
    assert engine.finish().victims == []


def test_unchanged_fingerprint_skips_the_capture() -> None:
    check = DictCheck()
    engine = started(check)
    for _ in range(100):
        engine.checkpoint(TEST_A)
    assert check.captures == 1  # the baseline only


def test_a_point_is_compared_with_the_last_point_of_its_kind() -> None:
    check = SweepingCheck()
    engine = started(check)
    for _ in range(3):
        engine.checkpoint(TEST_A)
        engine.checkpoint(Scope("t", "module"), sweep=True)
    assert check.captures == 1  # the baseline only: a sweep's fingerprint is not compared with another point's
    SHARED["x"] = "1"  # not through the counter: seen at the next sweep
    engine.checkpoint(TEST_A)
    [leak] = engine.end_scope(Scope("t", "module"))
    assert leak.test == "t"
    check.writes += 1  # through the counter: seen at the next point, after a sweep
    SHARED["y"] = "2"
    [leak] = engine.end_scope(TEST_B)
    assert (leak.test, leak.summary) == ("t.b", "y set")


def test_a_check_that_raises_is_reported_and_switched_off() -> None:
    healthy = DictCheck()
    broken = BrokenCheck()
    engine = started(broken, healthy)
    broken.broken = True
    SHARED["x"] = "1"
    engine.checkpoint(TEST_A)
    engine.checkpoint(TEST_A)
    report = engine.finish()
    [error] = report.check_errors
    assert (error.check, error.during, error.error) == ("broken", "checkpoint", "RuntimeError: boom")
    assert [f.check for f in report.findings] == ["shared_dict"]


class Uncomparable:
    """A fingerprint whose comparison raises (an ``__eq__`` that refuses)."""

    def __eq__(self, other: object) -> bool:
        raise TypeError("cannot compare")

    __hash__ = object.__hash__


class UncomparableCheck(DictCheck):
    name = "uncomparable"
    uncomparable = False

    def fingerprint(self, sweep: bool) -> Hashable:
        return Uncomparable() if self.uncomparable else ()


def test_a_fingerprint_whose_comparison_raises_is_reported_and_only_its_check_switched_off() -> None:
    healthy, odd = DictCheck(), UncomparableCheck()
    engine = started(healthy, odd)
    odd.uncomparable = True
    SHARED["x"] = "1"
    engine.checkpoint(TEST_A)
    report = engine.finish()
    [error] = report.check_errors
    assert (error.check, error.during, error.error) == ("uncomparable", "checkpoint", "TypeError: cannot compare")
    assert [(f.check, f.test) for f in report.findings] == [("shared_dict", "t.a")]


class FirstPartyCheck(DictCheck):
    name = "first_party"
    first_party_only = True


def test_a_move_seen_at_a_framework_point_is_observed_once() -> None:
    framework_visible, first_party = DictCheck(), FirstPartyCheck()
    engine = started(framework_visible, first_party)
    SHARED["x"] = "1"
    engine.checkpoint(CLASS, framework_class=True)
    assert (framework_visible.captures, first_party.captures) == (2, 1)  # a first-party check is not asked there
    engine.checkpoint(TEST_A)
    engine.checkpoint(TEST_A)
    assert (framework_visible.captures, first_party.captures) == (2, 2)  # each move observed once
    report = engine.finish()
    assert sorted((f.check, f.test) for f in report.findings) == [("first_party", "t.a"), ("shared_dict", "t.C")]


def test_a_check_whose_prepare_raises_is_never_started() -> None:
    class Unprepared(DictCheck):
        name = "unprepared"

        def prepare(self) -> None:
            raise RuntimeError("no hook")

    unprepared, healthy = Unprepared(), DictCheck()
    engine = Engine([unprepared, healthy], runner="test")
    engine.prepare()
    engine.start()
    SHARED["x"] = "1"
    engine.checkpoint(TEST_A)
    report = engine.finish()
    assert [(e.check, e.during) for e in report.check_errors] == [("unprepared", "prepare")]
    assert unprepared.captures == 0
    assert [f.check for f in report.findings] == ["shared_dict"]


def test_allowed_leaks_are_listed_apart_and_never_suspected() -> None:
    engine = Engine([DictCheck()], runner="test", allow=["shared_dict:ci_*"])
    engine.start()
    SHARED.update(ci_token="x")
    assert engine.end_scope(TEST_A) == []  # allowed by the run's pattern
    SHARED.update(mode="setter")
    assert engine.end_scope(Scope("t.setter", "test", allow=("shared_dict:mode",))) == []
    SHARED.update(other="leak")
    [leak] = engine.end_scope(TEST_B)
    engine.test_started("t.victim")
    engine.test_failed("t.victim", Failure("the failure names ci_token, mode and other", ()))
    report = engine.finish()
    assert leak.summary == "other set"
    assert [(a.test, a.pattern) for a in report.allowed] == [("t.a", "shared_dict:ci_*"), ("t.setter", "shared_dict:mode")]
    assert [v.suspects for v in report.victims] == [("t.b",)]
    assert report.failed == {"main": ["t.victim"]}


class TouchedCheck(DictCheck):
    """A DictCheck that also saw the running test touch some keys."""

    name = "touched_dict"
    touched_keys: ClassVar[set[str]] = set()

    def touched(self, change: Change) -> str | None:
        return f"it read {change.key}" if change.key in self.touched_keys else None


def test_victims_are_linked_on_evidence_only_strongest_first() -> None:
    check = TouchedCheck()
    engine = started(check)
    for test, key in (("t.first", "read"), ("t.second", "named"), ("t.third", "unrelated")):
        engine.test_started(test)
        SHARED[key] = "1"
        engine.end_scope(Scope(test, "test"))
    check.touched_keys = {"read"}
    engine.test_started("t.victim")
    engine.test_failed("t.victim", Failure("AssertionError: named != 2", ()))
    check.touched_keys = set()
    engine.test_started("t.unexplained")
    engine.test_failed("t.unexplained", Failure("AssertionError", ()))
    report = engine.finish()
    [victim] = report.victims
    assert victim.suspects == ("t.second", "t.first")  # named by the failure beats touched while running
    assert [link.evidence for link in victim.links] == ["the failure's message names named", "it read read"]
    assert report.unexplained == ["t.unexplained"]


def test_a_failure_whose_traceback_code_names_the_state_is_linked() -> None:
    def reads_the_flag() -> str:
        return SHARED["flag"]

    engine = started(DictCheck())
    engine.test_started(TEST_A.id)
    SHARED["flag"] = "on"
    engine.end_scope(TEST_A)
    engine.test_started(TEST_B.id)
    try:
        assert reads_the_flag() == "off"
    except AssertionError as error:
        engine.test_failed(TEST_B.id, Failure.of(error))
    [victim] = engine.finish().victims
    assert victim.suspects == ("t.a",)
    assert victim.links[0].evidence.startswith("the failing code names flag (tests/test_engine.py:")


def test_state_put_back_to_what_another_test_left_stays_that_tests_leak() -> None:
    """A class that overrides TIME_ZONE sets TZ to its zone and, as the override ends, back to the one an earlier
    class left: no finding whose before equals its after; the earlier class is still the polluter."""
    engine = started(DictCheck())
    SHARED["zone"] = "Chicago"
    [first] = engine.end_scope(TEST_A)
    SHARED["zone"] = "Kolkata"
    engine.checkpoint(TEST_B)
    SHARED["zone"] = "Chicago"
    assert engine.end_scope(TEST_B) == []
    SHARED["zone"] = "Tokyo"
    [second] = engine.end_scope(Scope("t.c", "test"))
    assert (first.test, second.test, second.details["before"], second.details["replaces_state_of"]) == (
        "t.a",
        "t.c",
        "Chicago",
        "t.a",
    )


class BrokenTouchedCheck(DictCheck):
    """A DictCheck whose evidence hook raises."""

    name = "broken_touched"

    def touched(self, change: Change) -> str | None:
        raise RuntimeError("no evidence")


def test_a_check_whose_evidence_hook_raises_is_reported_and_switched_off() -> None:
    engine = started(BrokenTouchedCheck())
    SHARED["flag"] = "on"
    engine.end_scope(TEST_A)
    engine.test_started(TEST_B.id)
    engine.test_failed(TEST_B.id, Failure("AssertionError", ()))
    report = engine.finish()
    assert [(e.check, e.during) for e in report.check_errors] == [("broken_touched", "touched")]
    assert report.victims == [] and report.unexplained == [TEST_B.id]


class EvidenceCheck(DictCheck):
    """Counts the test starts it was told of: its evidence is reset at each."""

    name = "evidence"

    def __init__(self) -> None:
        super().__init__()
        self.starts = 0

    def test_started(self) -> None:
        self.starts += 1


def test_evidence_hooks_run_only_while_a_leak_is_live() -> None:
    check = EvidenceCheck()
    engine = started(check)
    engine.test_started(TEST_A.id)
    SHARED["flag"] = "on"
    engine.end_scope(TEST_A)
    assert check.starts == 0  # no leak was live as the test started: no evidence would be asked for
    engine.test_started(TEST_B.id)
    del SHARED["flag"]
    engine.end_scope(TEST_B)
    assert check.starts == 1
    engine.test_started("t.c")
    assert check.starts == 1  # cleaned: nothing live again
    assert [f.test for f in engine.finish().findings] == [TEST_A.id]


def test_the_leaks_live_at_a_tests_start_follow_every_move_and_judgement() -> None:
    """Listed again only after a point moved or a scope was judged: each failure is linked to what was live then."""
    engine = started(DictCheck())
    engine.test_started(TEST_A.id)
    SHARED["alpha"] = "1"
    engine.end_scope(TEST_A)
    for number in range(3):  # clean tests: the list made at the first of them is kept
        engine.test_started(f"t.clean{number}")
        engine.end_scope(Scope(f"t.clean{number}", "test"))
    engine.test_started(TEST_B.id)
    SHARED["beta"] = "2"
    engine.end_scope(TEST_B)
    engine.test_started("t.both")
    engine.test_failed("t.both", Failure("KeyError: 'alpha' and 'beta'", ()))
    del SHARED["alpha"], SHARED["beta"]
    engine.end_scope(Scope("t.both", "test"))
    engine.test_started("t.after")
    engine.test_failed("t.after", Failure("KeyError: 'alpha'", ()))
    report = engine.finish()
    [victim] = report.victims
    assert (victim.test, victim.suspects) == ("t.both", (TEST_A.id, TEST_B.id))
    assert report.unexplained == []  # nothing was live as t.after started: no victim, nothing unexplained


def test_a_wider_scopes_leak_judged_after_tests_started_is_live_for_the_next_test() -> None:
    engine = started(DictCheck())
    engine.test_started("t.first")
    SHARED["zeta"] = "0"
    engine.end_scope(Scope("t.first", "test"))  # a finding already: the list is made at each test's start
    SHARED["gamma"] = "3"
    engine.checkpoint(CLASS)  # the class's set-up: its leak is judged only where the class ends
    engine.test_started(TEST_A.id)
    engine.end_scope(TEST_A)
    engine.end_scope(CLASS)
    engine.test_started(TEST_B.id)
    engine.test_failed(TEST_B.id, Failure("KeyError: 'gamma'", ()))
    [victim] = engine.finish().victims
    assert (victim.test, victim.suspects) == (TEST_B.id, (CLASS.id,))
