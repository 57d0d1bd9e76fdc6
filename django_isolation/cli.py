"""The ``django-isolation`` command.

``django-isolation show REPORT.json`` prints the terminal summary of a JSON
report (for example one saved as a CI artifact) and exits 1 when it holds leaks.

``django-isolation gate [options] -- PYTEST_ARGS`` is the pre-merge gate
through pytest: it surveys the whole suite, then runs the migration tests
(those that build a django-test-migrations ``Migrator``, and those marked
``migration_test`` or matching ``--marker``) as :mod:`django_isolation.gate`
says, and exits non-zero on any cause it finds.

``django-isolation find-polluter --report REPORT VICTIM`` replays the order
of the victim's process from a report of either runner and finds the test(s)
that make it fail (:mod:`django_isolation.polluter`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from django_isolation import __version__, gate
from django_isolation.gate_run import write_replay
from django_isolation.report import SCHEMA, merge_jobs, render_text, write_json


class PytestGateFront:
    """Builds the ``pytest`` command line of each gated run; a collect-only run gives the marked tests and the
    missing migrations."""

    runner = "pytest"
    DATABASE: Final = {
        "first": ["--reuse-db", "--create-db", "--isolation-gate-database", "first"],  # built afresh, copied, kept
        "reuse": ["--reuse-db", "--isolation-gate-database", "reuse"],
        "last": ["--reuse-db", "--isolation-gate-database", "last"],
    }

    def __init__(self, marker: str, pytest_args: list[str], checks: str) -> None:
        self.marker = marker
        self.pytest_args = pytest_args
        self.checks = checks
        self.extra_env: dict[str, str] = {}
        self._marked: list[str] = []

    def missing_migrations(self) -> gate.MissingMigrations:
        """Ask a ``pytest --collect-only -m MARKER`` run; it also says which tests the marker selects."""
        with tempfile.TemporaryDirectory(prefix="isolation-gate-") as directory:
            probe = Path(directory) / "probe.json"
            command = [*self._pytest(), "--isolation-tags-as-markers", "-m", self.marker, "--collect-only", "-q"]
            command += [f"--isolation-gate-probe={probe}", *self.pytest_args]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            try:
                data = json.loads(probe.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
                return gate.MissingMigrations({}, f"pytest --collect-only exited {done.returncode}: {tail}")
        self._marked = data["tests"]
        missing = data["missing_migrations"]
        return gate.MissingMigrations(missing["operations"], missing["error"])

    def selected(self, survey: dict[str, Any], collected: list[str]) -> list[str]:
        return self._marked

    def survey_command(self, files: gate.RunFiles, database: gate.DatabaseUse) -> list[str]:
        return [*self._pytest(), *self.DATABASE[database], *gate.survey_options(files), *self.pytest_args]

    def order_command(
        self, order: gate.Order, tests: list[str], files: gate.RunFiles, database: gate.DatabaseUse
    ) -> list[str]:
        """A replay of `tests` put in `order` (as ``--isolation-order`` puts the collected tests)."""
        ordered = list(tests)
        order.apply(ordered)
        write_replay(files.replay, ordered)
        return self.replay_command(files, database)

    def replay_command(self, files: gate.RunFiles, database: gate.DatabaseUse) -> list[str]:
        replay = [f"--isolation-replay={files.replay}", *self.DATABASE[database]]
        return [*self._pytest(), *replay, *gate.strict_options(files.report, self.checks), *self.pytest_args]

    def _pytest(self) -> list[str]:
        # pytest-randomly would reorder the tests and reseed random for each; the gate's shuffles replace it.
        return [sys.executable, "-m", "pytest", "-p", "no:randomly"]


DESCRIPTION = (
    "Find the Django tests that leave shared state behind: show a saved report, run the pre-merge gate, find the "
    "polluter of a failing test."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="django-isolation", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print the summary of a JSON report; exit 1 if it holds leaks")
    show.add_argument("report", help="a report written by --isolation-report")
    merge = commands.add_parser(
        "merge", help="merge the reports of several CI jobs into one; print it; exit 1 if it holds leaks"
    )
    merge.add_argument("reports", nargs="+", metavar="REPORT", help="reports written by --isolation-report")
    merge.add_argument("--output", metavar="PATH", help="write the merged report there")
    gate_parser = commands.add_parser(
        "gate",
        help="pre-merge gate through pytest: the migration tests in several orders under every check",
        usage="%(prog)s [options] [-- PYTEST_ARGS ...]",
    )
    gate_parser.add_argument(
        "--marker",
        default=gate.MIGRATION_TEST_MARKER,
        metavar="EXPR",
        help="an -m expression whose tests also count as migration tests, besides those that build a Migrator "
        f"(default {gate.MIGRATION_TEST_MARKER})",
    )
    gate.add_arguments(gate_parser)
    gate_parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to every pytest run, after --")
    _add_find_polluter(commands)
    args = parser.parse_args(argv)
    if args.command == "show":
        return _show(args.report)
    if args.command == "merge":
        return _merge(args.reports, args.output)
    if args.command == "find-polluter":
        return _find_polluter(args)
    return _gate(args)


def _add_find_polluter(commands: Any) -> None:
    finder = commands.add_parser(
        "find-polluter",
        help="replay a failing test's process and find the test(s) that make it fail",
        usage="%(prog)s --report REPORT [--worker W] [--brittle] [--json] [--no-fork] VICTIM [-- RUNNER_ARGS ...]",
    )
    finder.add_argument("victim", metavar="VICTIM", help="the test's id, as the report names it")
    finder.add_argument("--report", required=True, help="the JSON report of the run where it failed")
    finder.add_argument(
        "--worker", help="the pytest-xdist or --parallel worker that ran it (default: the one that did)"
    )
    finder.add_argument(
        "--brittle",
        action="store_true",
        help="the test passed in the run and fails alone: find the state-setter it needs instead",
    )
    finder.add_argument("--json", action="store_true", help="end with the result as one line of JSON")
    finder.add_argument(
        "--no-fork",
        action="store_true",
        help="start a new process for each run instead of forking one that loaded the tests once (slower; for "
        "test modules whose import starts threads or opens connections)",
    )
    finder.add_argument(
        "--output", default="isolation-polluter", metavar="DIR", help="where each run's replay, report and log go"
    )
    finder.add_argument(
        "runner_args",
        nargs=argparse.REMAINDER,
        help="after --: the arguments of pytest or manage.py test, instead of those the report recorded",
    )


def _find_polluter(args: argparse.Namespace) -> int:
    from django_isolation import polluter

    data = _read(args.report)
    if data is None:
        return polluter.EXIT_USAGE
    arguments = args.runner_args[1:] if args.runner_args[:1] == ["--"] else args.runner_args
    try:
        result = polluter.run(
            data, args.victim, args.worker, args.brittle, Path(args.output), arguments or None, fork=not args.no_fork
        )
    except ValueError as error:
        print(f"django-isolation find-polluter: {error}", file=sys.stderr)
        return polluter.EXIT_USAGE
    except polluter.TrialError as error:
        print(f"django-isolation find-polluter: {error}", file=sys.stderr)
        return polluter.EXIT_NOT_FOUND
    for line in polluter.summary_lines(result):
        print(line)
    if args.json:
        print(json.dumps(result.to_json()))
    return result.status


def _gate(args: argparse.Namespace) -> int:
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    front = PytestGateFront(args.marker, pytest_args, args.checks)
    result = gate.run_gate(front, gate.orders(args.shuffles, args.seeds), Path(args.output))
    return result.exit_status


def _merge(paths: list[str], output: str | None) -> int:
    """Merge the reports at `paths`, each one CI job's (named after its file, or its directory and file)."""
    reports = {}
    for job, path in zip(_job_names(paths), paths):
        data = _read(path)
        if data is None:
            return 2
        reports[job] = data
    try:
        merged = merge_jobs(reports)
    except ValueError as error:
        print(f"django-isolation: cannot merge: {error}", file=sys.stderr)
        return 2
    if output:
        write_json(merged, output)
    return _print(merged)


def _job_names(paths: list[str]) -> list[str]:
    """Each report's job: its file's stem, or its directory and stem when stems repeat, or its path."""
    for name in (lambda p: p.stem, lambda p: f"{p.parent.name}/{p.stem}", str):
        names = [name(Path(path)) for path in paths]
        if len(set(names)) == len(names):
            return names
    return paths


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data: dict[str, Any] = json.load(handle)
    except (OSError, ValueError) as error:
        print(f"django-isolation: cannot read {path}: {error}", file=sys.stderr)
        return None
    if data.get("schema") != SCHEMA:
        print(f"django-isolation: {path} is not a {SCHEMA} report", file=sys.stderr)
        return None
    return data


def _show(path: str) -> int:
    data = _read(path)
    return 2 if data is None else _print(data)


def _print(data: dict[str, Any]) -> int:
    """Print the summary of `data`; 1 if it holds leaks."""
    try:
        print(render_text(data))
        sys.stdout.flush()
    except BrokenPipeError:  # `show report.json | head`: the reader left; say no more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if data["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
