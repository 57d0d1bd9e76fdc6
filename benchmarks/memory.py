"""Peak memory of ``--isolation-check`` on a clean suite: the checked run's peak RSS against a plain run's.

Uses the suite of ``benchmarks/overhead.py`` (clean ``TestCase`` tests doing
small ORM work, 20 a class, 5 classes a module) at each size given, runs it
once plain and once checked for each set of checks (after a warm-up run that
creates the kept test database), and prints each run's peak resident set size
(``ru_maxrss`` of that child process, from ``os.wait4``; with ``--workers N``,
of the largest of its processes, the workers included: Linux gives the child's
own peak or its largest reaped descendant's) and the growth. Every
checked run's report must hold no finding, victim or check error. Budget: at
most 50 MB of growth at 5,000 tests with every check on.

    python benchmarks/memory.py                                  # 1,000 and 5,000 tests, manage.py test, SQLite
    python benchmarks/memory.py --runner pytest --tests 5000 --checks all --checks db_rows
    python benchmarks/memory.py --tests 5000 --workers 2                 # manage.py test --parallel 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import (  # the suite and the commands are overhead.py's
    BASE_TABLES,
    DEFAULT_CHECKS,
    DEFAULT_POSTGRES_URL,
    RUNNERS,
    BenchmarkError,
    check_report,
    command,
    environment,
    write_suite,
)

BUDGET_MB = 50.0
BUDGET_TESTS = 5000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", default="1000,5000", help="comma-separated suite sizes (default 1000,5000)")
    parser.add_argument("--runner", choices=RUNNERS, default="django")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help=f"default {DEFAULT_POSTGRES_URL}")
    parser.add_argument("--tables", type=int, default=50, help="tables in the database (default 50)")
    parser.add_argument("--checks", action="append", metavar="NAMES", help="as overhead.py (default: the defaults)")
    parser.add_argument("--workers", type=int, default=0, metavar="N", help="as overhead.py: pytest -n N, --parallel N")
    args = parser.parse_args(argv)
    args.checks = args.checks or [DEFAULT_CHECKS]
    args.tests = [int(number) for number in args.tests.split(",")]
    return args


def peak_rss_mb(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """The peak resident set size of one run of `argv`, which must exit 0, in MB."""
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise BenchmarkError(f"{' '.join(argv)} exited {process.returncode}:\n{errors.decode()[-3000:]}")
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def measure(args: argparse.Namespace, tests: int, root: Path) -> list[tuple[str, float, float]]:
    """(checks, plain MB, checked MB) for each set of checks at `tests` tests."""
    url = args.postgres_url if args.database == "postgres" else None
    env, report = environment(root, url, max(0, args.tables - BASE_TABLES)), root / "report.json"
    env["TESTPROJECT_TEST_DB"] += f"_memory_{tests}"
    workers = args.workers
    peak_rss_mb(command(args.runner, "plain", report, workers=workers), env, root)  # warm-up: creates the database
    plain = peak_rss_mb(command(args.runner, "plain", report, workers=workers), env, root)
    rows = []
    for checks in args.checks:
        checked = peak_rss_mb(command(args.runner, checks, report, workers=workers), env, root)
        check_report(report, tests)
        rows.append((checks, plain, checked))
    peak_rss_mb(command(args.runner, "without", report, keep_db=False), env, root)  # destroys the database
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"{'runner':8s} {'database':9s} {'tests':>6s} {'plain MB':>9s} {'checked MB':>11s} {'growth MB':>10s}  checks")
    worst = 0.0
    for tests in args.tests:
        with tempfile.TemporaryDirectory(prefix="isolation-memory-") as tmp:
            write_suite(Path(tmp), tests)
            try:
                rows = measure(args, tests, Path(tmp))
            except BenchmarkError as error:
                print(f"benchmark failed: {error}", file=sys.stderr)
                return 1
        for checks, plain, checked in rows:
            growth = checked - plain
            line = f"{args.runner:8s} {args.database:9s} {tests:6d} {plain:9.1f} {checked:11.1f} {growth:10.1f}"
            print(f"{line}  {checks}", flush=True)
            if tests >= BUDGET_TESTS:
                worst = max(worst, growth)
    if worst:
        status = "within" if worst <= BUDGET_MB else "OVER"
        print(f"largest growth at {BUDGET_TESTS:,}+ tests {worst:.1f} MB: {status} the {BUDGET_MB:.0f} MB budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
