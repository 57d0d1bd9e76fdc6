"""Why the gate is red: causes grouped per polluter and kind, the decisive ones first.

A polluter found by the survey is one cause, whatever number of findings its
leak made ("leaked 2 models into installed app analytics; makemigrations would
write 2 operations for analytics"), with what its paired run proved it breaks.
An order-dependent outcome names the state-setter: the test the victim came
near in the failing order (its report's victim links), or says it is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from django_isolation.gate import operations_text

if TYPE_CHECKING:
    from django_isolation.gate import GateResult, GateRun

SHOWN: Final = 5  # tests named in a cause's line; the rest are counted
RANKS: Final = ("crash", "proved polluter", "leak", "order-dependent", "fails in every order", "polluter", "migrations")


class Cause(NamedTuple):
    """One reason the gate is red: a line a person reads first, then its details."""

    kind: str
    text: str
    test: str | None = None
    victims: tuple[str, ...] = ()
    details: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "test": self.test,
            "victims": list(self.victims),
            "details": list(self.details),
        }


def polluters(survey: GateRun) -> dict[str, list[dict[str, Any]]]:
    """The survey's findings per test (or wider scope) that made them, in the order they were found."""
    found: dict[str, list[dict[str, Any]]] = {}
    for finding in survey.findings:
        found.setdefault(finding["test"], []).append(finding)
    return found


def polluter_heads(survey: GateRun, collected: Sequence[str]) -> list[str]:
    """The test to run first in each polluter's paired run: the polluter, or the first test of its scope."""
    heads: list[str] = []
    for owner, findings in polluters(survey).items():
        head = _head(owner, findings, collected)
        if head is not None and head not in heads:
            heads.append(head)
    return heads


def _head(owner: str, findings: list[dict[str, Any]], collected: Sequence[str]) -> str | None:
    if owner in collected:
        return owner
    first = next((f["details"]["first_test"] for f in findings if f["details"].get("first_test")), None)
    return first if first in collected else None


def causes(result: GateResult) -> list[Cause]:
    """Why the gate is red, decisive first; empty when green."""
    found = [*_crashes(result), *_polluter_causes(result), *_leak_causes(result), *_outcome_causes(result)]
    found += _migration_causes(result) + _check_error_causes(result)
    return sorted(found, key=lambda cause: RANKS.index(cause.kind) if cause.kind in RANKS else len(RANKS))


def leak_text(findings: Sequence[dict[str, Any]]) -> str:
    """What a test's findings amount to, grouped: models per app, operations per app, then the rest per check."""
    parts = []
    models: dict[tuple[str, bool], list[str]] = {}
    rest: dict[str, list[str]] = {}
    for finding in findings:
        details = finding["details"]
        if finding["check"] == "apps_registry" and details.get("change") == "added":
            models.setdefault((details["app_label"], bool(details.get("installed_app"))), []).append(details["model"])
        elif finding["check"] == "migration_drift" and details.get("operations"):
            count = len(details["operations"])
            parts.append(f"makemigrations would write {count} operation(s) for {details['app_label']}")
        else:
            rest.setdefault(finding["check"], []).append(finding["summary"])
    leaked = [
        f"leaked {len(names)} model(s) into {'installed app' if installed else 'app'} {label} ({', '.join(names)})"
        for (label, installed), names in models.items()
    ]
    others = [f"left [{check}] {summaries[0]}" + _more(summaries) for check, summaries in rest.items()]
    return "; ".join([*leaked, *parts, *others])


def _more(items: Sequence[object]) -> str:
    return f" (and {len(items) - 1} more)" if len(items) > 1 else ""


def _named(tests: Sequence[str]) -> str:
    shown = ", ".join(tests[:SHOWN])
    return shown + (f" and {len(tests) - SHOWN} more" if len(tests) > SHOWN else "")


def _polluter_causes(result: GateResult) -> list[Cause]:
    collected, order_leaks = _collected_run(result), _order_leaks(result)
    found = []
    for owner, findings in polluters(result.survey).items():
        head = _head(owner, findings, result.survey.ran)
        paired = next((run for run in result.paired_runs if head is not None and run.polluter == head), None)
        victims = _broken(paired, collected) if paired else ()
        proof = _proof(result, head, paired, victims)
        details = tuple(f"[{f['check']}] {f['summary']}" for f in findings) + _order_leak_lines(
            order_leaks.get(owner, {})
        )
        kind = "proved polluter" if victims else "polluter"
        found.append(Cause(kind, f"{owner} {leak_text(findings)}; {proof}", owner, victims, details))
    return found


def _collected_run(result: GateResult) -> GateRun | None:
    return next((run for run in result.order_runs if run.order is not None and run.order.kind == "collected"), None)


def _broken(paired: GateRun, collected: GateRun | None) -> tuple[str, ...]:
    """The tests after the polluter that failed in its paired run and passed as collected."""
    passed = set(collected.ran) - collected.failed if collected else set()
    return tuple(test for test in paired.ran[1:] if test in paired.failed and test in passed)


def _proof(result: GateResult, head: str | None, paired: GateRun | None, victims: Sequence[str]) -> str:
    if not result.selected:
        return "no migration test to run after it"
    if head is None:
        return "no paired run: its leak belongs to a scope with no test of its own"
    if paired is None or paired.report is None:
        return "its paired run did not finish (see the runs above)"
    if victims:
        return f"breaks {len(victims)} migration test(s) (proved: polluter then victims): {_named(victims)}"
    return "breaks none of the migration tests when run right before them (paired run)"


def _order_leak_lines(seen: dict[tuple[str, str], tuple[dict[str, Any], list[str]]]) -> tuple[str, ...]:
    return tuple(f"in the {', '.join(labels)} order(s): [{f['check']}] {f['summary']}" for f, labels in seen.values())


def _order_leaks(result: GateResult) -> dict[str, dict[tuple[str, str], tuple[dict[str, Any], list[str]]]]:
    """Per test, each leak found in the order runs (its first finding) and the orders it was found in."""
    seen: dict[str, dict[tuple[str, str], tuple[dict[str, Any], list[str]]]] = {}
    for run in result.order_runs:
        for finding in run.findings:
            leaks = seen.setdefault(finding["test"], {})
            leaks.setdefault((finding["check"], finding["summary"]), (finding, []))[1].append(run.label)
    return seen


def _leak_causes(result: GateResult) -> list[Cause]:
    """Leaks of the migration tests' runs by tests the survey did not already name."""
    surveyed = polluters(result.survey)
    found = []
    for test, leaks in _order_leaks(result).items():
        if test in surveyed:
            continue
        findings = [finding for finding, _ in leaks.values()]
        orders = list(dict.fromkeys(label for _, labels in leaks.values() for label in labels))
        text = f"{test} {leak_text(findings)} (in the {', '.join(orders)} order{'s' if len(orders) > 1 else ''})"
        details = tuple(f"[{check}] {summary}" for check, summary in leaks)
        found.append(Cause("leak", text, test, (), details))
    return found


def _outcome_causes(result: GateResult) -> list[Cause]:
    found = []
    for test in result.selected:
        ran = [run for run in result.order_runs if test in run.ran]
        failed = [run for run in ran if test in run.failed]
        passed = [run.label for run in ran if test not in run.failed]
        if failed and passed:
            labels, setter = ", ".join(run.label for run in failed), _state_setter(failed[0], test)
            text = f"order-dependent: {test} fails in {labels} ({setter}), passes in {', '.join(passed)}"
            found.append(Cause("order-dependent", text, test))
        elif failed:
            found.append(Cause("fails in every order", f"fails in every order: {test}", test))
    return found


def _state_setter(run: GateRun, test: str) -> str:
    """The test whose leak `test` came near in `run`, from the run's victim links."""
    victim = next((victim for victim in run.victims if victim["test"] == test), None)
    links = (victim or {}).get("links") or []
    if not links:
        return "state-setter unknown: it came near no watched leak"
    return f"after {links[0]['suspect']}, whose leak it came near: {links[0]['leak']}"


def _migration_causes(result: GateResult) -> list[Cause]:
    found = []
    for when, missing in (("before", result.before), ("after", result.after)):
        if missing.error:
            found.append(Cause("migrations", f"makemigrations --check {when} the tests could not run: {missing.error}"))
        elif missing.operations and (when == "before" or missing.operations != result.before.operations):
            found.append(Cause("migrations", f"makemigrations --check {when} the tests: {operations_text(missing)}"))
    return found


def _crashes(result: GateResult) -> list[Cause]:
    return [
        Cause("crash", f"the {run.label} run exited {run.returncode} without a report: see {run.log}")
        for run in result.all_runs
        if run.report is None
    ]


def _check_error_causes(result: GateResult) -> list[Cause]:
    seen: dict[str, str] = {}
    for run in result.all_runs:
        for error in (run.report or {}).get("check_errors", []):
            seen.setdefault(f"check {error['check']} broke during {error['during']}: {error['error']}", run.label)
    return [
        Cause("check error", f"{text} (in the {label} run); its state went unchecked") for text, label in seen.items()
    ]
