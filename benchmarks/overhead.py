"""Wall-time overhead of ``--isolation-check`` on a clean suite.

Generates a throwaway package of N clean ``django.test.TestCase`` tests doing
small ORM work on testproject's models (20 tests per class, 5 classes per
module), then runs it as real subprocesses for each runner (pytest,
``manage.py test``) and database (SQLite, PostgreSQL): one untimed warm-up of
each kind, then R alternating rounds of these runs: *without* django-isolation
loaded (``-p no:django_isolation``, or Django's own ``DiscoverRunner``),
*plain* (installed, option off) and one *checked* run (``--isolation-check``)
for each set of checks asked for. Prints the median wall time of each kind, the
cost of merely installing the package (off_ratio, the median of each round's
plain / without), the cost of the checks (ratio, the median of each round's
checked / plain: runs of one round are seconds apart, so a slow phase of the
machine moves both) and the checks' overhead per test. Every run must pass and
every checked run's JSON report must hold no finding, victim or check error.
Budget: at most 1.05x with the default checks (every check) on.

Run it with the dev environment's Python::

    python benchmarks/overhead.py                       # N=1000, R=5, both runners, both databases
    python benchmarks/overhead.py --tests 200 --repeat 3 --runner pytest --database sqlite
    python benchmarks/overhead.py --json overhead.json  # also write the figures as JSON
    python benchmarks/overhead.py --checks apps_registry,db_rows --checks all  # two check sets, one plain run a round

On a machine whose speed wanders (a shared VM), ``--instructions`` counts
the instructions of each timed run with valgrind's callgrind instead of
timing it: the same run gives the same count, so one round (``--repeat 1``)
gives ratios good to a fraction of a percent, at about 50 times the run time.
Instructions are not time (a cache miss costs more than an add), but they
show what the checks add without the machine's noise.

PostgreSQL is reached through ``--postgres-url``; only the test database Django
derives from it (``test_testproject_bench_<pid>``) is created and dropped. If
the server cannot be reached, PostgreSQL is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "isolation_bench"
BASE_TABLES = 11  # testproject's own tables (auth, contenttypes, shop, analytics, django_migrations)
SETTINGS = "isolation_bench_settings"
TABLES_APP = "isolation_bench_tables"
SETTINGS_SOURCE = f"""\
import os

from testproject.settings import *  # noqa: F403

if int(os.environ["ISOLATION_BENCH_TABLES"]):
    INSTALLED_APPS = [*INSTALLED_APPS, {TABLES_APP!r}]  # noqa: F405
"""
TABLES_SOURCE = """\
import os

from django.db import models

for number in range(int(os.environ["ISOLATION_BENCH_TABLES"])):
    name = f"Extra{number:03d}"
    globals()[name] = type(name, (models.Model,), {"__module__": __name__, "label": models.CharField(max_length=20)})
"""
TESTS_PER_CLASS = 20
CLASSES_PER_MODULE = 5
BUDGET = 1.05
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/testproject"
RUNNERS = ("pytest", "django")
DATABASES = ("sqlite", "postgres")
COLUMNS = (
    "runner", "database", "tables", "tests", "without_s", "plain_s", "checked_s", "off_ratio", "ratio",
    "overhead_us_per_test", "checks",
)  # fmt: skip
DEFAULT_CHECKS = "(default)"

MODULE_HEADER = """\
from decimal import Decimal

from django.db.models import Sum
from django.test import TestCase

from testproject.analytics.models import PageView
from testproject.shop.models import Order, Product
"""

CLASS_HEADER = """

class Bench{number:03d}Tests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.product = Product.objects.create(name="base", sku="base-{number}", price=Decimal("5.00"))
"""

TEST_BODIES = (
    """
    def test_{number:05d}_product(self):
        Product.objects.create(name="p{number}", sku="sku-{number}", price=Decimal("{number}.50"))
        self.assertEqual(Product.objects.filter(sku__startswith="sku-").count(), 1)
""",
    """
    def test_{number:05d}_order(self):
        Order.objects.create(product=self.product, quantity={quantity})
        Order.objects.create(product=self.product, quantity=1)
        self.assertEqual(self.product.orders.aggregate(total=Sum("quantity"))["total"], {quantity} + 1)
""",
    """
    def test_{number:05d}_page_view(self):
        PageView.objects.create(path="/page/{number}/")
        self.assertEqual(PageView.objects.filter(path__startswith="/page/").count(), 1)
""",
)


class BenchmarkError(Exception):
    """A run failed or its isolation report was not clean."""


@dataclass(frozen=True)
class Result:
    """The timed runs of one runner on one database."""

    runner: str
    database: str
    tables: int
    tests: int
    checks: str
    unit: str  # "s", or "Ginstr" (billions of instructions)
    without_runs: list[float]
    plain_runs: list[float]
    checked_runs: list[float]

    @property
    def without(self) -> float:
        return statistics.median(self.without_runs)

    @property
    def plain(self) -> float:
        return statistics.median(self.plain_runs)

    @property
    def checked(self) -> float:
        return statistics.median(self.checked_runs)

    @property
    def off_ratio(self) -> float:
        """Installed but off, against not loaded at all: the cost of merely installing the package."""
        return statistics.median(p / w for p, w in zip(self.plain_runs, self.without_runs))

    @property
    def ratio(self) -> float:
        """Checked against plain, round by round."""
        return statistics.median(c / p for c, p in zip(self.checked_runs, self.plain_runs))

    @property
    def overhead_us_per_test(self) -> float:
        """Microseconds (or thousands of instructions) a test."""
        return (self.checked - self.plain) / self.tests * 1e6

    def row(self) -> tuple[str, ...]:
        return (
            self.runner,
            self.database,
            str(self.tables),
            str(self.tests),
            f"{self.without:.3f}",
            f"{self.plain:.3f}",
            f"{self.checked:.3f}",
            f"{self.off_ratio:.3f}",
            f"{self.ratio:.3f}",
            f"{self.overhead_us_per_test:.0f}",
            self.checks,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "database": self.database,
            "tables": self.tables,
            "tests": self.tests,
            "checks": self.checks,
            "unit": self.unit,
            "without": self.without,
            "plain": self.plain,
            "checked": self.checked,
            "off_ratio": self.off_ratio,
            "ratio": self.ratio,
            "overhead_us_per_test": self.overhead_us_per_test,
            "without_runs": self.without_runs,
            "plain_runs": self.plain_runs,
            "checked_runs": self.checked_runs,
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000, help="number of generated tests (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds of the three kinds (default 5)")
    parser.add_argument("--runner", choices=(*RUNNERS, "both"), default="both")
    parser.add_argument("--database", choices=(*DATABASES, "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help=f"default {DEFAULT_POSTGRES_URL}")
    parser.add_argument(
        "--tables",
        default="50,200",
        help="comma-separated numbers of tables in the database, each a configuration (default 50,200; "
        "testproject has about a dozen, the rest are generated models)",
    )
    parser.add_argument(
        "--checks",
        action="append",
        metavar="NAMES",
        help="passed as --isolation-checks, e.g. all; repeat it to measure several sets in the same rounds "
        "(default: the default checks)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions with valgrind's callgrind instead of timing (deterministic, ~50x slower)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run every run on N workers: pytest -n N (pytest-xdist), manage.py test --parallel N (default: none)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")
    args = parser.parse_args(argv)
    args.checks = args.checks or [DEFAULT_CHECKS]
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind")
    if args.instructions and args.workers:
        parser.error("--instructions counts one process: time --workers runs instead")
    if args.tests < 1 or args.repeat < 1:
        parser.error("--tests and --repeat must be at least 1")
    try:
        args.tables = [int(number) for number in args.tables.split(",")]
    except ValueError:
        parser.error("--tables takes numbers separated by commas, e.g. 50,200")
    return args


def write_suite(root: Path, tests: int) -> None:
    """Write `tests` clean TestCase tests into the package ``root / PACKAGE``."""
    package = root / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (root / f"{SETTINGS}.py").write_text(SETTINGS_SOURCE)
    (root / TABLES_APP).mkdir()
    (root / TABLES_APP / "__init__.py").write_text("")
    (root / TABLES_APP / "models.py").write_text(TABLES_SOURCE)
    classes = [range(start, min(start + TESTS_PER_CLASS, tests)) for start in range(0, tests, TESTS_PER_CLASS)]
    for index in range(0, len(classes), CLASSES_PER_MODULE):
        source = MODULE_HEADER + "".join(map(class_source, classes[index : index + CLASSES_PER_MODULE]))
        (package / f"test_bench_{index // CLASSES_PER_MODULE:03d}.py").write_text(source)


def class_source(numbers: range) -> str:
    """One TestCase class holding the tests numbered `numbers`."""
    tests = (TEST_BODIES[n % len(TEST_BODIES)].format(number=n, quantity=n % 7 + 2) for n in numbers)
    return CLASS_HEADER.format(number=numbers.start // TESTS_PER_CLASS) + "".join(tests)


def command(runner: str, mode: str, report: Path, keep_db: bool = True, workers: int = 0) -> list[str]:
    """The command line of one run: `mode` is "without", "plain" or a set of checks; a checked run writes `report`.

    With `keep_db` the test database is kept and reused between runs: creating a
    PostgreSQL database waits on the disk, whose latency varies by seconds here.
    """
    if runner == "django":
        argv = [sys.executable, str(REPO / "manage.py"), "test", PACKAGE, "--noinput"]
        argv += ["--keepdb"] if keep_db else []
        argv += ["--parallel", str(workers)] if workers else []
        without = ["--testrunner", "django.test.runner.DiscoverRunner"]
    else:
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        argv += [f"--ds={SETTINGS}", PACKAGE]
        argv += ["--reuse-db"] if keep_db else []
        argv += ["-n", str(workers)] if workers else []
        without = ["-p", "no:django_isolation"]
    if mode == "without":
        return argv + without
    if mode == "plain":
        return argv
    checked = ["--isolation-check", "--isolation-report", str(report)]
    return argv + checked + ([] if mode == DEFAULT_CHECKS else ["--isolation-checks", mode])


def environment(root: Path, database_url: str | None, extra_tables: int) -> dict[str, str]:
    """The parent's environment without isolation or database settings, plus the suite's paths."""
    # PYTHONDONTWRITEBYTECODE (set on this machine) would make every run compile the project and
    # django-isolation from source, charging the checked runs for it: installs cache bytecode.
    dropped = ("DATABASE_URL", "PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("DJANGO_ISOLATION_")}
    env["PYTHONPATH"] = os.pathsep.join((str(REPO), str(root)))
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    env["ISOLATION_BENCH_TABLES"] = str(extra_tables)
    env["TESTPROJECT_TEST_DB"] = f"bench_{os.getpid()}"  # its own test database: test_testproject_bench_<pid>
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def timed_run(argv: list[str], env: dict[str, str], cwd: Path, instructions: bool = False) -> float:
    """Wall time (or billions of instructions) of one subprocess run, which must exit 0."""
    if instructions:
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
        env = {**env, "PYTHONHASHSEED": "0"}  # the same run, the same count
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise BenchmarkError(f"{' '.join(argv)} exited {done.returncode}:\n{output}")
    if instructions:
        collected = re.search(r"Collected : (\d+)", done.stderr)
        if collected is None:
            raise BenchmarkError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
        return int(collected.group(1)) / 1e9
    return elapsed


def check_report(path: Path, tests: int) -> None:
    """Fail unless the report at `path` ran all `tests` and found nothing."""
    data = json.loads(path.read_text(encoding="utf-8"))
    ran = sum(len(order) for order in data["order"].values())
    problems = {key: data[key] for key in ("findings", "victims", "check_errors") if data[key]}
    if problems or ran != tests:
        raise BenchmarkError(f"checked run not clean ({ran} of {tests} tests ran): {json.dumps(problems)[:2000]}")
    path.unlink()


def measure(
    runner: str, database: str, url: str | None, root: Path, tables: int, args: argparse.Namespace
) -> list[Result]:
    """Warm up, then time `repeat` rounds of every mode, alternating; then drop the kept test database.

    One result for each set of checks.
    """
    env, report = environment(root, url, max(0, tables - BASE_TABLES)), root / "report.json"
    env["TESTPROJECT_TEST_DB"] += f"_{tables}"  # a kept database holds one number of tables
    modes = ["without", "plain", *args.checks]
    unit = "Ginstr" if args.instructions else "s"
    runs: dict[str, list[float]] = {mode: [] for mode in modes}
    for number in range(args.repeat + 1):
        for mode in modes:  # the warm-up round (number 0) is timed, never counted
            argv = command(runner, mode, report, workers=args.workers)
            elapsed = timed_run(argv, env, root, args.instructions and number > 0)
            if mode not in ("without", "plain"):
                check_report(report, args.tests)
            if number:
                runs[mode].append(elapsed)
    timed_run(command(runner, "without", report, keep_db=False), env, root)  # creates, then destroys
    return [
        Result(runner, database, tables, args.tests, checks, unit, runs["without"], runs["plain"], runs[checks])
        for checks in args.checks
    ]


def reachable(url: str) -> bool:
    """Whether the server of `url` accepts TCP connections."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 5432), timeout=3):
            return True
    except OSError:
        return False


def columns(instructions: bool) -> tuple[str, ...]:
    """The table's heading, in the unit of the measure."""
    if not instructions:
        return COLUMNS
    renamed = {"overhead_us_per_test": "overhead_kinstr_per_test"}
    return tuple(renamed.get(c, c.replace("_s", "_Ginstr") if c.endswith("_s") else c) for c in COLUMNS)


def print_row(cells: Sequence[str]) -> None:
    """One table line: names left-aligned, figures right-aligned."""
    widths = [max(len(a), len(b), 8) for a, b in zip(columns(False), columns(True))]
    left = (0, 1, len(COLUMNS) - 1)
    line = "  ".join(cell.ljust(w) if i in left else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))
    print(line, flush=True)


def verdict(results: list[Result]) -> str:
    """The worst ratio against the budget and the aim."""
    worst = max(results, key=lambda result: result.ratio)
    status = "within" if worst.ratio <= BUDGET else "OVER"
    where = f"{worst.runner}/{worst.database}/{worst.tables} tables/checks {worst.checks}"
    return f"worst ratio {worst.ratio:.3f}x ({where}): {status} the {BUDGET:.2f}x budget"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every selected runner and database; 0 when all ran clean."""
    args = parse_args(argv)
    runners = RUNNERS if args.runner == "both" else (args.runner,)
    databases = [db for db in DATABASES if args.database in (db, "both")]
    if "postgres" in databases and not reachable(args.postgres_url):
        print(f"PostgreSQL at {urlsplit(args.postgres_url).netloc} is unreachable; skipping it", file=sys.stderr)
        databases.remove("postgres")
    if not databases:
        print("nothing to measure", file=sys.stderr)
        return 1
    urls = {"sqlite": None, "postgres": args.postgres_url}
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="isolation-bench-") as tmp:
        write_suite(Path(tmp), args.tests)
        print_row(columns(args.instructions))
        try:
            for tables in args.tables:
                for runner in runners:
                    for database in databases:
                        for result in measure(runner, database, urls[database], Path(tmp), tables, args):
                            results.append(result)
                            print_row(result.row())
        except BenchmarkError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            return 1
    print(verdict(results))
    if args.json:
        args.json.write_text(json.dumps([result.to_json() for result in results], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
