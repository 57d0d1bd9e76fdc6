"""``django-isolation find-polluter`` against asottile's detect-test-pollution on the same victims.

Generates a throwaway pytest suite of N tests (plain test functions, 100 a
module, run with testproject's settings under pytest-django) in three shapes,
each with its victim last:

* ``suspected``: one polluter sets an environment variable the victim's
  failure names: the report (``--isolation-checks environ``) links them;
* ``blind``: one polluter sets an attribute of a standard-library module, which
  no check watches;
* ``together``: two polluters whose attributes fail the victim only together.

For each N and shape: one recorded run with a report, then find-polluter
(``--json``) and detect-test-pollution (``--failing-test VICTIM --tests
PACKAGE``) alternately, ``--repeat`` times; prints the runs each made, the
median wall time of each, whether each named the polluter(s), and the ratio
of the medians (find-polluter / detect-test-pollution); exits 1 if find-polluter
missed a polluter. Targets (issue 14):
at most 2 runs suspected, at most ceil(log2 N) + 2 blind, and less than half
of detect-test-pollution's wall time. detect-test-pollution finds one polluter
only: on ``together`` it stops with an error, which the table says.

    python benchmarks/find_polluter.py                      # N = 1000 and 5000, one round
    python benchmarks/find_polluter.py --tests 1000 --repeat 3 --json find-polluter.json

detect-test-pollution must be installed (``pip install detect-test-pollution``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "polluter_bench"
PER_MODULE = 100
SHAPES = ("suspected", "blind", "together")


@dataclass(frozen=True)
class Shape:
    """Where the polluters are, what they run, and what the victim asserts."""

    name: str
    polluters: dict[int, str]  # index -> body
    victim: str
    checks: str  # of the recorded run


def shapes(tests: int) -> list[Shape]:
    return [
        Shape(
            "suspected",
            {tests // 3: 'os.environ["POLLUTER_BENCH_FLAG"] = "1"'},
            'assert "POLLUTER_BENCH_FLAG" not in os.environ, "POLLUTER_BENCH_FLAG is set"',
            "environ",
        ),
        Shape("blind", {tests // 3: "json.polluter_bench = 1"}, 'assert not hasattr(json, "polluter_bench")', "cwd"),
        Shape(
            "together",
            {tests // 4: "json.polluter_bench_a = 1", 2 * tests // 3: "json.polluter_bench_b = 1"},
            'assert not (hasattr(json, "polluter_bench_a") and hasattr(json, "polluter_bench_b"))',
            "cwd",
        ),
    ]


def write_suite(root: Path, tests: int, shape: Shape) -> tuple[str, list[str]]:
    """Write the suite; return the victim's node id and the polluters'."""
    package = root / PACKAGE
    shutil.rmtree(package, ignore_errors=True)
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    ids: list[str] = []
    for start in range(0, tests, PER_MODULE):
        name = f"test_{start // PER_MODULE:04d}.py"
        lines = ["import json", "import os", ""]
        for index in range(start, min(start + PER_MODULE, tests)):
            last = index == tests - 1
            body = shape.victim if last else shape.polluters.get(index, "pass")
            lines += ["", f"def test_{index:05d}():", f"    {body}", ""]
            ids.append(f"{PACKAGE}/{name}::test_{index:05d}")
        (package / name).write_text("\n".join(lines))
    return ids[-1], [ids[index] for index in sorted(shape.polluters)]


def environment(root: Path) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST_"))}
    environ.pop("DATABASE_URL", None)
    return {
        **environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(root)]),
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
    }


def record(root: Path, shape: Shape) -> Path:
    report = root / "report.json"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q"]
    command += ["--isolation-checks", shape.checks, f"--isolation-report={report}", PACKAGE]
    subprocess.run(command, cwd=root, env=environment(root), capture_output=True, check=False)
    if not report.exists():
        raise SystemExit(f"the recorded run of {shape.name} wrote no report")
    return report


def find_polluter(root: Path, report: Path, victim: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "django_isolation.cli", "find-polluter", "--report", str(report), "--json"]
    command += ["--output", str(root / "polluter"), victim]
    begun = time.monotonic()
    done = subprocess.run(command, cwd=root, env=environment(root), capture_output=True, text=True, check=False)
    seconds = time.monotonic() - begun
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"victim"')]
    result = json.loads(lines[-1]) if lines else {"polluters": [], "runs": None}
    return {"seconds": seconds, "runs": result["runs"], "found": result["polluters"], "status": done.returncode}


def detect_test_pollution(root: Path, victim: str) -> dict[str, Any]:
    """detect-test-pollution's runs: discovery, the victim alone, with all, one a step, the double check."""
    executable = shutil.which("detect-test-pollution", path=os.path.dirname(sys.executable)) or "detect-test-pollution"
    command = [executable, "--failing-test", victim, "--tests", PACKAGE]
    begun = time.monotonic()
    done = subprocess.run(command, cwd=root, env=environment(root), capture_output=True, text=True, check=False)
    seconds = time.monotonic() - begun
    found = re.findall(r"the polluting test is: (\S+)", done.stdout)
    steps = len(re.findall(r"running step \d+", done.stdout))
    runs = 3 + steps + ("double checking" in done.stdout)
    error = None if done.returncode == 0 else (done.stdout + done.stderr).strip().splitlines()[-1:]
    return {"seconds": seconds, "runs": runs, "found": found, "status": done.returncode, "error": error}


def measure(tests: int, repeat: int, root: Path) -> list[dict[str, Any]]:
    rows = []
    for shape in shapes(tests):
        victim, polluters = write_suite(root, tests, shape)
        report = record(root, shape)
        ours, theirs = [], []
        for _ in range(repeat):
            ours.append(find_polluter(root, report, victim))
            theirs.append(detect_test_pollution(root, victim))
        row = {"tests": tests, "shape": shape.name, "polluters": polluters, "target_runs": target(shape, tests)}
        for tool, results in (("find-polluter", ours), ("detect-test-pollution", theirs)):
            row[tool] = {
                "runs": results[-1]["runs"],
                "seconds": statistics.median(result["seconds"] for result in results),
                "found": results[-1]["found"] == polluters,
                "status": results[-1]["status"],
                "error": results[-1].get("error"),
            }
        row["ratio"] = row["find-polluter"]["seconds"] / row["detect-test-pollution"]["seconds"]
        rows.append(row)
        print_row(row)
    return rows


def target(shape: Shape, tests: int) -> int | None:
    """The most runs issue 14 allows: 2 suspected, ceil(log2 N) + 2 blind; none set for two polluters."""
    if shape.name == "together":
        return None
    return 2 if shape.name == "suspected" else math.ceil(math.log2(tests)) + 2


def print_row(row: dict[str, Any]) -> None:
    ours, theirs = row["find-polluter"], row["detect-test-pollution"]
    theirs_found = "yes" if theirs["found"] else f"no (exit {theirs['status']}: {' '.join(theirs['error'] or [])})"
    print(
        f"{row['tests']:>5} {row['shape']:<9} find-polluter: {ours['runs']} runs (target {row['target_runs'] or '-'}), "
        f"{ours['seconds']:.1f} s, found {'yes' if ours['found'] else 'no'} | detect-test-pollution: "
        f"{theirs['runs']} runs, {theirs['seconds']:.1f} s, found {theirs_found} | ratio {row['ratio']:.2f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", default="1000,5000", help="comma-separated suite sizes (default 1000,5000)")
    parser.add_argument("--repeat", type=int, default=1, help="alternating rounds of both tools (default 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args()
    if shutil.which("detect-test-pollution", path=os.path.dirname(sys.executable)) is None:
        print("detect-test-pollution is not installed: pip install detect-test-pollution", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="polluter-bench-") as directory:
        for tests in (int(part) for part in args.tests.split(",")):
            rows += measure(tests, args.repeat, Path(directory))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(row["find-polluter"]["found"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
