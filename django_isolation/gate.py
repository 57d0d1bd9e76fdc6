"""The pre-merge gate: run the migration tests under every check, in several orders, and judge.

The gate knows nothing of pytest or ``manage.py test``; a :class:`GateFront`
builds the command line of one run in a given :class:`Order` and says which
migrations ``makemigrations --check`` would write. :func:`run_gate` then:

1. asks the front for missing migrations before the tests;
2. runs the selected tests once per order (as collected, reversed, then N
   shuffles whose seeds are printed), each with every check on and leaks
   failing, reusing the test database between runs;
3. asks for missing migrations again after the tests;
4. turns everything into causes, one line each: a leak, drift or schema not
   restored (a finding of any check), a test whose outcome depends on the
   order, a test that fails in every order, a check that broke, a run that
   crashed, migrations missing before or after;
5. writes ``gate.json``, ``junit.xml`` and ``summary.md`` (for a CI job
   summary) into the output directory, with each run's report and log.

Exit status: 0 green, 1 red, 5 when no test was selected.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from xml.etree import ElementTree

SCHEMA: Final = "django-isolation/gate/1"
DEFAULT_SHUFFLES: Final = 3
DEFAULT_OUTPUT: Final = "isolation-gate"
MIGRATION_TEST_MARKER: Final = "migration_test"  # django-test-migrations' marker and tag
EXIT_GREEN: Final = 0
EXIT_RED: Final = 1
EXIT_NO_TESTS: Final = 5
DatabaseUse = Literal["first", "reuse", "last"]
"""A run's test database: created and kept (the first run), reused and kept, created and destroyed (the last)."""


@dataclass(frozen=True)
class Order:
    """One order to run the tests in."""

    kind: Literal["collected", "reversed", "shuffled"]
    seed: int | None = None

    @property
    def label(self) -> str:
        return f"shuffled (seed {self.seed})" if self.kind == "shuffled" else self.kind

    @property
    def slug(self) -> str:
        return f"shuffled-{self.seed}" if self.kind == "shuffled" else self.kind

    @property
    def argument(self) -> str:
        """The value of pytest's ``--isolation-order`` for this order."""
        return f"shuffled:{self.seed}" if self.kind == "shuffled" else self.kind

    @classmethod
    def parse(cls, text: str) -> Order:
        """Read ``collected``, ``reversed`` or ``shuffled:SEED``."""
        kind, _, seed = text.partition(":")
        if kind in ("collected", "reversed") and not seed:
            return cls(kind)  # type: ignore[arg-type]
        if kind == "shuffled" and seed.isdigit():
            return cls("shuffled", int(seed))
        raise ValueError(f"--isolation-order: expected collected, reversed or shuffled:SEED, got {text!r}")

    def apply(self, items: list[Any]) -> None:
        """Put `items` in this order, in place."""
        if self.kind == "reversed":
            items.reverse()
        elif self.kind == "shuffled":
            random.Random(self.seed).shuffle(items)


def orders(shuffles: int, seeds: Sequence[int] = ()) -> list[Order]:
    """As collected, reversed, then one shuffle per seed in `seeds`, or `shuffles` random ones."""
    chosen = list(seeds) or [random.SystemRandom().randrange(10**9) for _ in range(shuffles)]
    return [Order("collected"), Order("reversed"), *(Order("shuffled", seed) for seed in chosen)]


@dataclass(frozen=True)
class MissingMigrations:
    """What ``makemigrations --check`` would write: operations per app label, or why it could not tell."""

    operations: dict[str, list[str]]
    error: str | None = None

    @property
    def clean(self) -> bool:
        return not self.operations and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"operations": self.operations, "error": self.error}


def missing_migrations_now() -> MissingMigrations:
    """What ``makemigrations --check`` would write in this process (Django set up), without a database."""
    try:
        from django_isolation.checks.migration_drift import missing_migrations

        return MissingMigrations(missing_migrations())
    except Exception as error:  # noqa: BLE001 - reported as the reason the check could not run
        return MissingMigrations({}, f"{type(error).__name__}: {error}")


class GateFront(Protocol):
    """What the gate needs from a runner."""

    runner: str
    extra_env: dict[str, str]

    def test_command(self, order: Order, report: Path, database: DatabaseUse) -> list[str]: ...

    def missing_migrations(self) -> MissingMigrations: ...


@dataclass
class OrderRun:
    """One finished run of the selected tests."""

    order: Order
    command: list[str]
    returncode: int
    report: dict[str, Any] | None
    log: Path

    @property
    def ran(self) -> list[str]:
        return [test for tests in (self.report or {}).get("order", {}).values() for test in tests]

    @property
    def failed(self) -> set[str]:
        return {test for tests in (self.report or {}).get("failed", {}).values() for test in tests}

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list((self.report or {}).get("findings", []))


@dataclass
class GateResult:
    """Everything the gate saw, and the causes it fails on."""

    runner: str
    runs: list[OrderRun]
    before: MissingMigrations
    after: MissingMigrations
    causes: list[str] = field(default_factory=list)

    @property
    def tests(self) -> list[str]:
        return list(dict.fromkeys(test for run in self.runs for test in run.ran))

    @property
    def exit_status(self) -> int:
        if not self.tests and not any(run.report is None for run in self.runs):
            return EXIT_NO_TESTS
        return EXIT_RED if self.causes else EXIT_GREEN


def run_gate(front: GateFront, chosen: Sequence[Order], output: Path, echo: Callable[[str], None] = print) -> GateResult:
    """Run the gate with `front` in the `chosen` orders; write its files to `output`."""
    output.mkdir(parents=True, exist_ok=True)
    before = front.missing_migrations()
    echo(f"django-isolation gate: makemigrations --check before the tests: {_migrations_line(before)}")
    runs = []
    for number, order in enumerate(chosen):
        database: DatabaseUse = "last" if number == len(chosen) - 1 else "reuse" if number else "first"
        runs.append(_run_order(front, order, output, database))
        echo(_run_line(runs[-1]))
    after = front.missing_migrations()
    echo(f"django-isolation gate: makemigrations --check after the tests: {_migrations_line(after)}")
    result = GateResult(front.runner, runs, before, after)
    result.causes = causes(result)
    write_outputs(result, output)
    for line in summary_lines(result, output):
        echo(line)
    return result


def _run_order(front: GateFront, order: Order, output: Path, database: DatabaseUse) -> OrderRun:
    directory = output / order.slug
    directory.mkdir(parents=True, exist_ok=True)
    report, log = directory / "report.json", directory / "output.log"
    report.unlink(missing_ok=True)
    command = front.test_command(order, report, database)
    environ = {**os.environ, **front.extra_env}
    with log.open("w", encoding="utf-8") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=environ, check=False)
    data = _read_report(report)
    return OrderRun(order, command, done.returncode, data, log)


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def causes(result: GateResult) -> list[str]:
    """Why the gate is red, one line each; empty when green."""
    found = [*_migration_causes(result), *_crash_causes(result), *_leak_causes(result)]
    found += _check_error_causes(result)
    return found + _outcome_causes(result)


def _migration_causes(result: GateResult) -> list[str]:
    found = []
    for when, missing in (("before", result.before), ("after", result.after)):
        if missing.error:
            found.append(f"makemigrations --check {when} the tests could not run: {missing.error}")
        elif missing.operations and (when == "before" or missing.operations != result.before.operations):
            found.append(f"makemigrations --check {when} the tests: {_operations_text(missing.operations)}")
    return found


def _crash_causes(result: GateResult) -> list[str]:
    return [
        f"the {run.order.label} run exited {run.returncode} without a report: see {run.log}"
        for run in result.runs
        if run.report is None
    ]


def _leak_causes(result: GateResult) -> list[str]:
    seen: dict[tuple[str, str, str], list[str]] = {}
    for run in result.runs:
        for finding in run.findings:
            key = (finding["check"], finding["test"], finding["summary"])
            seen.setdefault(key, []).append(run.order.label)
    return [
        f"leak [{check}] left by {test}: {summary} (in the {_listed(labels)} order{'s' if len(labels) > 1 else ''})"
        for (check, test, summary), labels in seen.items()
    ]


def _check_error_causes(result: GateResult) -> list[str]:
    seen: dict[str, str] = {}
    for run in result.runs:
        for error in (run.report or {}).get("check_errors", []):
            seen.setdefault(f"check {error['check']} broke during {error['during']}: {error['error']}", run.order.label)
    return [f"{text} (in the {label} order); its state went unchecked" for text, label in seen.items()]


def _outcome_causes(result: GateResult) -> list[str]:
    found = []
    for test in result.tests:
        ran = [run for run in result.runs if test in run.ran]
        failed = [run.order.label for run in ran if test in run.failed]
        passed = [run.order.label for run in ran if test not in run.failed]
        if failed and passed:
            found.append(f"order-dependent: {test} fails in {_listed(failed)}, passes in {_listed(passed)}")
        elif failed:
            found.append(f"fails in every order: {test}")
    return found


def _listed(labels: Sequence[str]) -> str:
    return ", ".join(labels)


def _operations_text(operations: dict[str, list[str]]) -> str:
    return "; ".join(f"{label}: {', '.join(ops)}" for label, ops in sorted(operations.items()))


def _migrations_line(missing: MissingMigrations) -> str:
    if missing.error:
        return f"could not run ({missing.error})"
    return "no changes" if missing.clean else f"changes not in migrations: {_operations_text(missing.operations)}"


def _run_line(run: OrderRun) -> str:
    if run.report is None:
        return f"django-isolation gate: {run.order.label}: exited {run.returncode} without a report ({run.log})"
    return (
        f"django-isolation gate: {run.order.label}: {len(run.ran)} tests, {len(run.failed)} failed, "
        f"{len(run.findings)} leak(s) (exit {run.returncode})"
    )


def summary_lines(result: GateResult, output: Path) -> list[str]:
    """The closing lines for the terminal: the verdict, each cause, how to reproduce, where the files are."""
    if result.exit_status == EXIT_NO_TESTS:
        return ["django-isolation gate: no test was selected (see the selection options); failing"]
    verdict = "passed" if not result.causes else f"FAILED ({len(result.causes)} cause(s))"
    lines = [f"django-isolation gate {verdict}"]
    lines += [f"  - {cause}" for cause in result.causes]
    if result.causes:
        lines.append("reproduce an order with:")
        lines += [f"  {run.order.label}: {shlex.join(run.command)}" for run in result.runs]
    lines.append(f"files: {output / 'gate.json'}, {output / 'junit.xml'}, {output / 'summary.md'}")
    return lines


def write_outputs(result: GateResult, output: Path) -> None:
    """``gate.json``, ``junit.xml`` and ``summary.md`` in `output`."""
    (output / "gate.json").write_text(json.dumps(to_json(result), indent=2) + "\n", encoding="utf-8")
    ElementTree.ElementTree(junit(result)).write(output / "junit.xml", encoding="utf-8", xml_declaration=True)
    (output / "summary.md").write_text(markdown(result), encoding="utf-8")


def to_json(result: GateResult) -> dict[str, Any]:
    """The gate's JSON document (schema ``django-isolation/gate/1``)."""
    return {
        "schema": SCHEMA,
        "runner": result.runner,
        "status": "passed" if result.exit_status == EXIT_GREEN else "failed",
        "exit_status": result.exit_status,
        "causes": result.causes,
        "makemigrations": {"before": result.before.to_json(), "after": result.after.to_json()},
        "orders": [
            {
                "order": run.order.kind,
                "seed": run.order.seed,
                "label": run.order.label,
                "command": run.command,
                "returncode": run.returncode,
                "report": str(run.log.parent / "report.json") if run.report is not None else None,
                "log": str(run.log),
                "tests": len(run.ran),
                "failed": sorted(run.failed),
                "findings": len(run.findings),
            }
            for run in result.runs
        ],
        "tests": {test: {run.order.label: _outcome(run, test) for run in result.runs} for test in result.tests},
    }


def _outcome(run: OrderRun, test: str) -> str:
    if test not in run.ran:
        return "not run"
    return "failed" if test in run.failed else "passed"


def junit(result: GateResult) -> ElementTree.Element:
    """JUnit XML: a suite per order (a test case per test, leaks as failures of their polluter) and the gate's own."""
    root = ElementTree.Element("testsuites", name="django-isolation gate")
    for run in result.runs:
        root.append(_order_suite(run))
    root.append(_gate_suite(result))
    return root


def _order_suite(run: OrderRun) -> ElementTree.Element:
    suite = ElementTree.Element("testsuite", name=f"order: {run.order.label}")
    leaks: dict[str, list[str]] = {}
    for finding in run.findings:
        leaks.setdefault(finding["test"], []).append(f"[{finding['check']}] {finding['summary']}")
    failures = 0
    for test in [*run.ran, *(test for test in leaks if test not in run.ran)]:
        case = ElementTree.SubElement(suite, "testcase", name=test, classname=run.order.label)
        problems = (["failed"] if test in run.failed else []) + leaks.get(test, [])
        if problems:
            failures += 1
            failure = ElementTree.SubElement(case, "failure", message="; ".join(problems))
            failure.text = "\n".join(problems)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    return suite


def _gate_suite(result: GateResult) -> ElementTree.Element:
    suite = ElementTree.Element("testsuite", name="django-isolation gate")
    for name, problems in (
        ("makemigrations --check", _migration_causes(result)),
        ("every run finished", _crash_causes(result) + _check_error_causes(result)),
        ("no leaks", _leak_causes(result)),
        ("outcomes do not depend on the order", _outcome_causes(result)),
    ):
        case = ElementTree.SubElement(suite, "testcase", name=name, classname="gate")
        if problems:
            failure = ElementTree.SubElement(case, "failure", message=problems[0])
            failure.text = "\n".join(problems)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(sum(1 for case in suite if len(case))))
    return suite


def markdown(result: GateResult) -> str:
    """A Markdown summary for a CI job summary (e.g. ``$GITHUB_STEP_SUMMARY``)."""
    status = {EXIT_GREEN: "passed", EXIT_RED: "failed", EXIT_NO_TESTS: "failed: no test selected"}
    lines = [f"## django-isolation gate: {status[result.exit_status]}", ""]
    lines += ["| order | tests | failed | leaks | exit |", "|---|---|---|---|---|"]
    lines += [
        f"| {run.order.label} | {len(run.ran)} | {len(run.failed)} | {len(run.findings)} | {run.returncode} |"
        for run in result.runs
    ]
    before, after = _migrations_line(result.before), _migrations_line(result.after)
    lines += ["", f"makemigrations --check: before: {before}; after: {after}", ""]
    if result.causes:
        lines += ["### Causes", ""] + [f"- {_escape(cause)}" for cause in result.causes] + [""]
        lines += ["### Reproduce", ""]
        for run in result.runs:
            lines += [f"{run.order.label}:", "", "```sh", shlex.join(run.command), "```", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both gate commands share."""
    parser.add_argument(
        "--shuffles",
        type=int,
        default=DEFAULT_SHUFFLES,
        metavar="N",
        help=f"shuffled orders to run after the collected and reversed ones (default {DEFAULT_SHUFFLES})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        dest="seeds",
        default=[],
        metavar="SEED",
        help="run a shuffle with this seed (repeatable; replaces the random ones): to reproduce a gate run",
    )
    parser.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help=f"where gate.json, junit.xml, summary.md and each run's report and log go (default {DEFAULT_OUTPUT}/)",
    )
    parser.add_argument(
        "--checks", default="all", metavar="NAMES", help="the checks each run uses (default: all)"
    )


def strict_options(report: Path, checks: str) -> list[str]:
    """The ``--isolation-*`` options of every gated run: every check, leaks fail, a JSON report."""
    return ["--isolation-check", "--isolation-checks", checks, "--isolation-fail", "--isolation-report", str(report)]
