"""The pre-merge gate: find the polluters anywhere in the suite, prove what they break, run the migration tests in
several orders, and judge.

The gate knows nothing of pytest or ``manage.py test``; a :class:`GateFront`
builds each run's command line. :func:`run_gate`:

1. asks for the migrations ``makemigrations --check`` would write before the tests;
2. **survey**: runs the whole suite (the labels or paths given) once with the
   registry and schema checks (:data:`SURVEY_CHECKS`), building the test
   database and keeping it; it finds every test that leaves the registry or
   the schema changed (the polluters) and every test that builds a
   django-test-migrations ``Migrator`` (the migration tests, with those the
   front's own selection adds: a marker, a tag);
3. **orders**: runs only the migration tests, as collected, reversed, then N
   shuffles whose seeds are printed, under every check with leaks failing;
4. **paired runs**: for each polluter, one run of that polluter followed by the
   migration tests, in exactly that order (``--isolation-replay``): a
   migration test that fails there and passes as collected is proved broken
   by it. The last run destroys the test database;
5. asks for missing migrations again, turns everything into causes
   (:mod:`django_isolation.gate_causes`) and writes ``gate.json``,
   ``junit.xml`` and ``summary.md`` (:mod:`django_isolation.gate_report`).

Exit status: 0 green, 1 red, 5 when no test was selected.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol

from django_isolation.gate_run import write_replay

if TYPE_CHECKING:
    from django_isolation.gate_causes import Cause

SCHEMA: Final = "django-isolation/gate/2"
DEFAULT_SHUFFLES: Final = 3
DEFAULT_OUTPUT: Final = "isolation-gate"
MIGRATION_TEST_MARKER: Final = "migration_test"  # django-test-migrations' marker and tag
SURVEY_CHECKS: Final = "apps_registry,migration_drift,db_schema,module_identity"
EXIT_GREEN: Final = 0
EXIT_RED: Final = 1
EXIT_NO_TESTS: Final = 5
DatabaseUse = Literal["first", "reuse", "last"]
"""A run's test database: built afresh and kept (the first run), reused and kept, reused and destroyed (the last)."""
RunKind = Literal["survey", "order", "paired"]


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


class RunFiles(NamedTuple):
    """The files of one run, in its own directory of the gate's output."""

    directory: Path

    @property
    def report(self) -> Path:
        return self.directory / "report.json"

    @property
    def log(self) -> Path:
        return self.directory / "output.log"

    @property
    def survey(self) -> Path:
        return self.directory / "survey.json"

    @property
    def replay(self) -> Path:
        return self.directory / "replay.txt"


class GateFront(Protocol):
    """What the gate needs from a runner."""

    runner: str
    extra_env: dict[str, str]

    def missing_migrations(self) -> MissingMigrations: ...

    def survey_command(self, files: RunFiles, database: DatabaseUse) -> list[str]: ...

    def selected(self, survey: dict[str, Any], collected: list[str]) -> list[str]:
        """The tests the front's own selection (a marker, tags) picks, besides those that built a Migrator."""

    def order_command(self, order: Order, tests: list[str], files: RunFiles, database: DatabaseUse) -> list[str]:
        """Run `tests` (in collected order) in `order`."""

    def replay_command(self, files: RunFiles, database: DatabaseUse) -> list[str]:
        """Run exactly the tests of ``files.replay``, in that order."""


@dataclass
class GateRun:
    """One finished run."""

    kind: RunKind
    label: str
    command: list[str]
    returncode: int
    report: dict[str, Any] | None
    files: RunFiles
    seconds: float
    order: Order | None = None
    polluter: str | None = None

    @property
    def log(self) -> Path:
        return self.files.log

    @property
    def ran(self) -> list[str]:
        return [test for tests in (self.report or {}).get("order", {}).values() for test in tests]

    @property
    def failed(self) -> set[str]:
        return {test for tests in (self.report or {}).get("failed", {}).values() for test in tests}

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list((self.report or {}).get("findings", []))

    @property
    def victims(self) -> list[dict[str, Any]]:
        return list((self.report or {}).get("victims", []))


@dataclass
class GateResult:
    """Everything the gate saw, and the causes it fails on."""

    runner: str
    survey: GateRun
    selected: list[str]
    runs: list[GateRun]
    before: MissingMigrations
    after: MissingMigrations
    seconds: float = 0.0
    causes: list[Cause] = field(default_factory=list)  # decisive first

    @property
    def order_runs(self) -> list[GateRun]:
        return [run for run in self.runs if run.kind == "order"]

    @property
    def paired_runs(self) -> list[GateRun]:
        return [run for run in self.runs if run.kind == "paired"]

    @property
    def all_runs(self) -> list[GateRun]:
        return [self.survey, *self.runs]

    @property
    def exit_status(self) -> int:
        if not self.selected and self.survey.report is not None:
            return EXIT_NO_TESTS
        return EXIT_RED if self.causes else EXIT_GREEN


class _Runner:
    """Runs the gate's runs one after another, numbered, timed and announced on stderr."""

    def __init__(self, front: GateFront, output: Path, progress: Callable[[str], None]) -> None:
        self.front, self.output, self.progress = front, output, progress
        self.started = time.monotonic()
        self.number = 0
        self.total = "?"

    def files(self, slug: str) -> RunFiles:
        files = RunFiles(self.output / slug)
        files.directory.mkdir(parents=True, exist_ok=True)
        files.report.unlink(missing_ok=True)
        return files

    def run(self, kind: RunKind, label: str, files: RunFiles, command: list[str], tests: int | None) -> GateRun:
        self.number += 1
        what = "the whole suite" if tests is None else f"{tests} test(s)"
        self.progress(f"django-isolation gate: run {self.number} of {self.total}: {label}, {what} ({self._elapsed()})")
        begun = time.monotonic()
        environ = {**os.environ, **self.front.extra_env}
        with files.log.open("w", encoding="utf-8") as handle:
            done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=environ, check=False)
        seconds = time.monotonic() - begun
        return GateRun(kind, label, command, done.returncode, read_json(files.report), files, seconds)

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f} s elapsed"


def run_gate(
    front: GateFront,
    chosen: Sequence[Order],
    output: Path,
    echo: Callable[[str], None] = print,
    progress: Callable[[str], None] | None = None,
) -> GateResult:
    """Run the gate with `front` in the `chosen` orders; write its files to `output`."""
    from django_isolation import gate_causes, gate_report

    output.mkdir(parents=True, exist_ok=True)
    runner = _Runner(front, output, progress or _to_stderr)
    before = front.missing_migrations()
    echo(f"django-isolation gate: makemigrations --check before the tests: {migrations_line(before)}")
    files = runner.files("survey")
    survey = runner.run("survey", "survey", files, front.survey_command(files, "first"), None)
    survey_data = read_json(files.survey) or {}
    collected = survey.ran
    selected = _selection(collected, survey_data, front.selected(survey_data, collected))
    heads = gate_causes.polluter_heads(survey, collected)
    runner.total = str(1 + (len(chosen) + len(heads) if selected else 0))
    echo(_run_line(survey))
    runs = _selected_runs(runner, chosen, selected, heads) if selected else []
    after = front.missing_migrations()
    echo(f"django-isolation gate: makemigrations --check after the tests: {migrations_line(after)}")
    result = GateResult(front.runner, survey, selected, runs, before, after, time.monotonic() - runner.started)
    result.causes = gate_causes.causes(result)
    gate_report.write_outputs(result, output)
    for line in gate_report.summary_lines(result, output):
        echo(line)
    return result


def _selected_runs(runner: _Runner, chosen: Sequence[Order], selected: list[str], heads: list[str]) -> list[GateRun]:
    """The orders, then one paired run per polluter; the last run destroys the test database."""
    plans: list[tuple[Order | None, str | None]] = [(order, None) for order in chosen]
    plans += [(None, head) for head in heads]
    runs = []
    for number, (order, head) in enumerate(plans):
        database: DatabaseUse = "last" if number == len(plans) - 1 else "reuse"
        run = _order_run(runner, order, selected, database) if order else _paired_run(runner, head, selected, database)
        runs.append(run)
        runner.progress(_run_line(runs[-1]))
    return runs


def _order_run(runner: _Runner, order: Order, selected: list[str], database: DatabaseUse) -> GateRun:
    files = runner.files(order.slug)
    run = runner.run(
        "order", order.label, files, runner.front.order_command(order, selected, files, database), len(selected)
    )
    run.order = order
    return run


def _paired_run(runner: _Runner, head: str | None, selected: list[str], database: DatabaseUse) -> GateRun:
    assert head is not None
    files = runner.files(f"paired-{runner.number + 1}")
    tests = [head, *(test for test in selected if test != head)]
    write_replay(files.replay, tests)
    label = f"paired: {head} first"
    run = runner.run("paired", label, files, runner.front.replay_command(files, database), len(tests))
    run.polluter = head
    return run


def _selection(collected: list[str], survey: dict[str, Any], front_selected: list[str]) -> list[str]:
    """The migration tests: those that built a Migrator and those the front selects, in collected order."""
    chosen = {*survey.get("migration_tests", []), *front_selected}
    return [test for test in collected if test in chosen] + sorted(chosen.difference(collected))


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object at `path`, or None when it is missing or not JSON (a run that wrote no report)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def operations_text(missing: MissingMigrations) -> str:
    """The operations per app label, one line."""
    return "; ".join(f"{label}: {', '.join(ops)}" for label, ops in sorted(missing.operations.items()))


def migrations_line(missing: MissingMigrations) -> str:
    """What ``makemigrations --check`` found, for the terminal and ``summary.md``."""
    if missing.error:
        return f"could not run ({missing.error})"
    return "no changes" if missing.clean else f"changes not in migrations: {operations_text(missing)}"


def _run_line(run: GateRun) -> str:
    took = f"{run.seconds:.1f} s"
    if run.report is None:
        return f"django-isolation gate: {run.label}: exited {run.returncode} without a report ({run.log}; {took})"
    return (
        f"django-isolation gate: {run.label}: {len(run.ran)} tests, {len(run.failed)} failed, "
        f"{len(run.findings)} leak(s) (exit {run.returncode}; {took})"
    )


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
        "--checks", default="all", metavar="NAMES", help="the checks of the migration tests' runs (default: all)"
    )


# A path is given as one --option=PATH word: pytest takes a lone word that names an existing path for a path to
# collect, and the common directory of those for its rootdir (which would change every test's node id).


def strict_options(report: Path, checks: str) -> list[str]:
    """The ``--isolation-*`` options of the migration tests' runs: the checks, leaks fail, a JSON report."""
    return ["--isolation-check", "--isolation-checks", checks, "--isolation-fail", f"--isolation-report={report}"]


def survey_options(files: RunFiles) -> list[str]:
    """The ``--isolation-*`` options of the survey: the registry and schema checks, a report, the Migrator survey."""
    return [
        "--isolation-check",
        "--isolation-checks",
        SURVEY_CHECKS,
        f"--isolation-report={files.report}",
        f"--isolation-gate-survey={files.survey}",
    ]
