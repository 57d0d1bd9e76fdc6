"""Run real projects' own test suites plain and under django-isolation; compare outcomes, time, judge findings.

Per suite (the table SUITES): downloads the sdist from PyPI into a cache
outside the repository and unpacks it there, builds a virtualenv in the cache
with the Python minor version and the test dependencies the suite's own CI
uses (pinned below; rebuilt only when that set changes) plus this checkout
editable, so that edits to django_isolation apply without reinstalling. Then
runs the suite from the unpacked sdist, as its tox does, in each mode (plain;
``default``: ``--isolation-check``; ``all``: ``--isolation-checks all``) and
order (collected; reversed: pytest ``--isolation-order reversed``, Django
``--reverse``), in ``--rounds`` rounds; its output goes to
``<cache>/<suite>/logs/``.

Prints, per suite: whether each checked run's per-test outcomes equal the
plain run's of the same order and round (pytest: ``--junitxml``; Django:
``-v 2`` output), checked/plain ratios of CPU time (children's rusage) and
wall time (medians of the rounds' ratios), the findings of each JSON report
(``<cache>/<suite>/<mode>-<order>.json``, the last round's) per check, each
judged by the ledger ``benchmarks/ledger/<suite>.json``, and, after a run of
the whole suite in every mode and order, the ledger entries that matched no
finding (stale). Exits 1 when outcomes differ (with ``--strict`` also when a
finding is unjudged), 2 on a setup error.

    python benchmarks/real_suites.py                          # every suite, mode and order
    python benchmarks/real_suites.py --suite django-filter --modes plain,all --orders reversed
    python benchmarks/real_suites.py --smoke                  # CI: a part of django-filter, default checks
    python benchmarks/real_suites.py --rounds 3 --json real-suites.json

Ledger: ``{"suite": NAME, "entries": [ENTRY, ...]}``. An entry judges the
findings of its ``check`` whose summary its ``summary`` regular expression
finds (``re.search``), and, when given, whose test id its ``test`` pattern and
whose ``details`` values (as text) the patterns of its ``"details"`` object
find (e.g. ``{"replaces_state_of": "."}``); the first matching entry wins. A
leak has ``"verdict": "leak"`` and ``"later_test_sees"``; a false positive
``"verdict": "false"``, ``"class"`` and ``"reason"``. Entries stay true across
orders: the polluter a reversed run names may differ, so prefer file-level
``test`` patterns.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parent.parent
LEDGER_DIR = Path(__file__).resolve().parent / "ledger"
DEFAULT_CACHE = Path.home() / ".cache" / "django-isolation" / "real-suites"
MODES = {"plain": (), "default": ("--isolation-check",), "all": ("--isolation-checks", "all")}
ORDERS = ("collected", "reversed")
VENV_RECORD = "real-suites-requirements.json"
DROPPED_ENV = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
SHOWN_DIFFERENCES = 20


class SetupError(Exception):
    """A suite could not be downloaded, installed or run."""


@dataclass(frozen=True)
class Suite:
    """One project's test suite: how its CI installs and runs it."""

    name: str  # the PyPI name; also the ledger's and the cache folder's name
    version: str
    runner: str  # "pytest" or "django"
    python: str  # the minor version its CI runs this Django on
    requirements: tuple[str, ...]
    command: tuple[str, ...]  # run by the venv's python from the unpacked sdist
    smoke_labels: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


SUITES = {
    suite.name: suite
    for suite in (
        # tox.ini (GitHub; not in the sdist): envs py312-django60 etc. run `pytest --cov --cov-report xml` with the
        # dependency groups test + optional + django60 of pyproject.toml and PYTHONWARNINGS=once; addopts
        # (pyproject [tool.pytest]) add --no-migrations. Here and below coverage is left out: it would be timed too.
        Suite(
            name="djangorestframework",
            version="3.18.3",
            runner="pytest",
            python="3.12",
            requirements=(
                "Django==6.0.10",
                "dj-database-url==3.1.2",
                "importlib-metadata==9.1.0",
                "pytest==9.2.0",
                "pytest-cov==7.1.0",
                "pytest-django==4.14.0",
                "django-filter==26.2",
                "django-guardian==3.5.2",
                "inflection==0.5.1",
                "markdown==3.11.3",
                "psycopg[binary]==3.3.9",
                "pygments==2.21.0",
                "pyyaml==6.0.4",
                "requests==2.34.2",
                "uritemplate==4.2.0",
            ),
            command=("-m", "pytest", "tests"),
            smoke_labels=("tests/test_relations.py", "tests/test_viewsets.py"),
            env=(("PYTHONWARNINGS", "once"),),
        ),
        # tox.ini (in the sdist): env py312-django60 runs `coverage run ./runtests.py --testrunner
        # xmlrunner...XMLTestRunner` with Django>=6.0,<6.1, djangorestframework and requirements/test-ci.txt.
        # runtests.py passes its argv on to `manage.py test`; IsolationRunner replaces XMLTestRunner.
        Suite(
            name="django-filter",
            version="26.2",
            runner="django",
            python="3.12",
            requirements=(
                "Django==6.0.10",
                "djangorestframework==3.18.3",
                "coverage[toml]==7.17.5",
                "pytz==2026.6",
                "unittest-xml-reporting==4.0.0",
            ),
            command=("runtests.py", "--testrunner", "django_isolation.runner.IsolationRunner", "-v", "2"),
            smoke_labels=("tests.test_utils", "tests.test_filterset", "tests.rest_framework"),
        ),
        # tox.ini (in the sdist): env py312-dj51, its newest Django, runs `python -m pytest` with time-machine==2.4.1,
        # requirements-test.txt and Django==5.1.*; SQLITE=1 (the mypy env's) swaps its PostgreSQL for SQLite, on
        # which the 4 JoinManagerTest tests fail (their SQL is PostgreSQL's), plain and checked alike.
        Suite(
            name="django-model-utils",
            version="5.0.0",
            runner="pytest",
            python="3.12",
            requirements=(
                "Django==5.1.15",
                "time-machine==2.4.1",
                "pytest==7.4.3",
                "pytest-django==4.5.2",
                "psycopg2-binary==2.9.9",
                "pytest-cov==4.1.0",
            ),
            command=("-m", "pytest"),
            smoke_labels=("tests/test_fields",),
            env=(("SQLITE", "1"),),
        ),
    )
}


@dataclass
class Run:
    """One run of a suite: its outcomes, times and (checked runs) report."""

    mode: str
    order: str
    round: int
    wall: float
    cpu: float
    returncode: int
    outcomes: dict[str, str]  # test id -> passed, failed, error, skipped, xfailed, xpassed or unknown
    report: dict[str, Any] | None = None


@dataclass(frozen=True)
class Entry:
    """A ledger entry: judges the findings its check and regular expressions match."""

    index: int
    check: str
    summary: re.Pattern[str]
    test: re.Pattern[str] | None
    details: tuple[tuple[str, re.Pattern[str]], ...]  # detail key -> pattern its value (as text) must hold
    verdict: str  # "leak" or "false"
    false_class: str | None  # the false positive's class
    note: str  # for a leak, what a later test sees; for a false positive, why it is one

    def matches(self, finding: dict[str, Any]) -> bool:
        """Whether this entry judges `finding`."""
        if finding["check"] != self.check or not self.summary.search(finding["summary"]):
            return False
        if self.test is not None and not self.test.search(finding["test"]):
            return False
        details = finding.get("details", {})
        return all(key in details and pattern.search(str(details[key])) for key, pattern in self.details)

    @property
    def label(self) -> str:
        """LEAK or FALSE(<class>)."""
        return "LEAK" if self.verdict == "leak" else f"FALSE({self.false_class})"


@dataclass
class SuiteResult:
    """Every run of one suite, and what was printed about it, for the table and --json."""

    suite: Suite
    runs: list[Run] = field(default_factory=list)
    differences: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)


# -- setup ------------------------------------------------------------------------------------------------------


def find_python(version: str) -> str:
    """An interpreter of this minor version: on PATH, or one pyenv installed."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}"), *sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            check=False,
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    raise SetupError(f"no Python {version} found (on PATH or under {pyenv}/versions)")


def quiet(argv: Sequence[str], cwd: Path | None = None) -> None:
    """Run a setup command, showing its output only if it fails."""
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SetupError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")


def unpacked_source(suite: Suite, cache: Path, python: str) -> Path:
    """The unpacked sdist of `suite`, downloaded and unpacked into the cache if not there yet."""
    source = cache / suite.name / "src" / suite.version
    found = [path for path in source.glob("*") if path.is_dir()] if source.is_dir() else []
    if found:
        return found[0]
    sdists = cache / "sdists" / suite.name
    if not any(sdists.glob(f"*{suite.version}.tar.gz")):
        print(f"== {suite.name}: downloading the {suite.version} sdist", flush=True)
        spec = f"{suite.name}=={suite.version}"
        quiet([python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", spec, "-d", str(sdists)])
    archive = next(sdists.glob(f"*{suite.version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(source, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # type: ignore[arg-type]
    return next(path for path in source.glob("*") if path.is_dir())


def venv_python(suite: Suite, cache: Path, python: str) -> Path:
    """The suite's virtualenv's python, (re)built when its recorded requirement set differs."""
    venv = cache / suite.name / "venv"
    wanted = {"python": python, "requirements": list(suite.requirements), "editable": str(REPO)}
    record = venv / VENV_RECORD
    if record.is_file() and json.loads(record.read_text()) == wanted:
        return venv / "bin" / "python"
    print(f"== {suite.name}: building its virtualenv", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    quiet([python, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    quiet([*pip, *suite.requirements])
    quiet([*pip, "-e", str(REPO)])
    record.write_text(json.dumps(wanted, indent=2))
    return venv / "bin" / "python"


# -- running ----------------------------------------------------------------------------------------------------


def run_argv(
    suite: Suite, python: Path, mode: str, order: str, paths: dict[str, Path], labels: Sequence[str]
) -> list[str]:
    """The command line of one run; a checked run writes its report to ``paths["report"]``."""
    argv = [str(python), *suite.command, *MODES[mode]]
    if mode != "plain":
        argv += ["--isolation-report", str(paths["report"])]
    if suite.runner == "pytest":
        argv += [f"--junitxml={paths['junit']}"] + (["--isolation-order", "reversed"] if order == "reversed" else [])
    elif order == "reversed":
        argv.append("--reverse")
    return argv + list(labels)


def environment(suite: Suite) -> dict[str, str]:
    """The parent's environment without database, settings or isolation variables, plus the suite's own."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV and not k.startswith("DJANGO_ISOLATION_")}
    return {**env, **dict(suite.env)}


def children_cpu() -> float:
    """User plus system CPU seconds of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(
    suite: Suite, python: Path, source: Path, cache: Path, mode: str, order: str, round_: int, labels: Sequence[str]
) -> Run:
    """Run the suite once; read its outcomes and (checked) report."""
    logs = cache / suite.name / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stem = f"{mode}-{order}"
    paths = {"report": cache / suite.name / f"{stem}.json", "junit": logs / f"{stem}.xml"}
    for path in paths.values():
        path.unlink(missing_ok=True)
    argv = run_argv(suite, python, mode, order, paths, labels)
    with open(logs / f"{stem}.out", "w") as out, open(logs / f"{stem}.err", "w") as err:
        cpu, start = children_cpu(), time.perf_counter()
        done = subprocess.run(argv, cwd=source, env=environment(suite), stdout=out, stderr=err, check=False)
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if suite.runner == "pytest":
        outcomes = junit_outcomes(paths["junit"])
    else:
        outcomes = django_outcomes((logs / f"{stem}.err").read_text(errors="replace"))
    report = json.loads(paths["report"].read_text()) if mode != "plain" and paths["report"].is_file() else None
    if mode != "plain" and report is None:
        print(f"!! {suite.name} {stem}: no report written (exit {done.returncode}; see {logs / stem}.err)")
    return Run(mode, order, round_, wall, cpu, done.returncode, outcomes, report)


# -- outcomes ---------------------------------------------------------------------------------------------------


def junit_outcomes(path: Path) -> dict[str, str]:
    """Test id -> outcome from pytest's JUnit XML, in the order the tests ran."""
    if not path.is_file():
        return {}
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(path).iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        tags = {child.tag: child for child in case}
        if "error" in tags:
            outcomes[test] = "error"
        elif "failure" in tags:
            outcomes[test] = "failed"
        elif "skipped" in tags:
            outcomes[test] = "xfailed" if tags["skipped"].get("type") == "pytest.xfail" else "skipped"
        else:
            outcomes[test] = "passed"
    return outcomes


DJANGO_START = re.compile(r"^(?P<name>\w+) \((?P<id>[\w.]+)\)(?P<rest>.*)$")
DJANGO_STATUS = {
    "ok": "passed",
    "FAIL": "failed",
    "ERROR": "error",
    "skipped": "skipped",
    "expected failure": "xfailed",
    "unexpected success": "xpassed",
}
DJANGO_STATUS_AT_END = re.compile(r"(?:^|\.\.\. )(ok|FAIL|ERROR|expected failure|unexpected success|skipped\b.*)$")
DJANGO_HEADER = re.compile(r"^(FAIL|ERROR): \w+ \(([\w.]+)\)")


def django_outcomes(stderr: str) -> dict[str, str]:
    """Test id -> outcome from ``-v 2`` output, in the order the tests ran.

    A test starts with ``name (id)``; its status ends that line or a later one
    (after a docstring line or the test's own output). The ``FAIL:``/``ERROR:``
    headers of the summary then win: they also catch failed subtests.
    """
    outcomes: dict[str, str] = {}
    current: str | None = None
    for line in stderr.splitlines():
        header = DJANGO_HEADER.match(line)
        if header:
            outcomes[header.group(2)] = DJANGO_STATUS[header.group(1)]
            continue
        start = DJANGO_START.match(line)
        if start:
            current, line = start.group("id"), start.group("rest")
            outcomes.setdefault(current, "unknown")
        status = DJANGO_STATUS_AT_END.search(line.strip()) if current else None
        if current and status:
            word = status.group(1)
            outcomes[current] = DJANGO_STATUS["skipped" if word.startswith("skipped") else word]
            current = None
    return outcomes


def differences(plain: dict[str, str], checked: dict[str, str]) -> list[str]:
    """One line per test whose outcome differs (or that ran in only one of the runs)."""
    tests = list(plain) + [test for test in checked if test not in plain]
    return [
        f"{test}: {plain.get(test, 'absent')} -> {checked.get(test, 'absent')}"
        for test in tests
        if plain.get(test) != checked.get(test)
    ]


def order_check(suite: Suite, collected: Run | None, reversed_: Run | None) -> str | None:
    """Whether a plain reversed run really ran the tests reversed; None without both plain runs."""
    if collected is None or reversed_ is None:
        return None
    forward, backward = list(collected.outcomes), list(reversed_.outcomes)
    if suite.runner == "pytest":
        ok = forward == backward[::-1]
        return "reversed order verified" if ok else "!! plain reversed run did not run the tests in reverse"
    ok = set(forward) == set(backward) and forward != backward  # Django reverses within each kind of test case
    return "reversed order verified (same tests, other order)" if ok else "!! --reverse did not change the order"


# -- ledger -----------------------------------------------------------------------------------------------------


def load_ledger(name: str) -> list[Entry]:
    """The entries of ``benchmarks/ledger/<name>.json`` (none if it does not exist)."""
    path = LEDGER_DIR / f"{name}.json"
    if not path.is_file():
        return []
    try:
        return [parse_entry(index, raw) for index, raw in enumerate(json.loads(path.read_text())["entries"])]
    except (KeyError, ValueError, re.error) as error:
        raise SetupError(f"{path}: {error!r}") from None


def parse_entry(index: int, raw: dict[str, Any]) -> Entry:
    """One validated ledger entry."""
    if raw["verdict"] == "leak":
        false_class, note = None, raw["later_test_sees"]
    elif raw["verdict"] == "false":
        false_class, note = raw["class"], raw["reason"]
    else:
        raise ValueError(f"entry {index}: verdict must be 'leak' or 'false', not {raw['verdict']!r}")
    test = re.compile(raw["test"]) if raw.get("test") else None
    details = tuple((key, re.compile(pattern)) for key, pattern in raw.get("details", {}).items())
    return Entry(index, raw["check"], re.compile(raw["summary"]), test, details, raw["verdict"], false_class, note)


def judge(finding: dict[str, Any], ledger: Sequence[Entry]) -> Entry | None:
    """The first ledger entry matching `finding`."""
    return next((entry for entry in ledger if entry.matches(finding)), None)


# -- printing ---------------------------------------------------------------------------------------------------


def ratio(runs: Sequence[Run], mode: str, order: str, attribute: str) -> float | None:
    """Median over the rounds of this mode's time / the plain run's of the same order and round."""
    plain = {run.round: getattr(run, attribute) for run in runs if run.mode == "plain" and run.order == order}
    ratios = [
        getattr(run, attribute) / plain[run.round]
        for run in runs
        if run.mode == mode and run.order == order and plain.get(run.round)
    ]
    return statistics.median(ratios) if ratios else None


def report_outcomes(result: SuiteResult) -> None:
    """Print, per checked run, whether its outcomes equal the plain run's of the same order and round."""
    plain = {(run.order, run.round): run for run in result.runs if run.mode == "plain"}
    for run in result.runs:
        base = plain.get((run.order, run.round))
        if run.mode == "plain" or base is None:
            continue
        diff = differences(base.outcomes, run.outcomes)
        result.differences.setdefault((run.mode, run.order), []).extend(diff)
        counts = Counter(run.outcomes.values())
        print(
            f"{run.mode}/{run.order} round {run.round}: {len(run.outcomes)} tests {dict(counts)}, exit {run.returncode}: "
            + ("outcomes identical" if not diff else f"{len(diff)} outcome(s) differ")
        )
        for line in diff[:SHOWN_DIFFERENCES]:
            print(f"    {line}")
        if len(diff) > SHOWN_DIFFERENCES:
            print(f"    ... and {len(diff) - SHOWN_DIFFERENCES} more")


def last_reports(runs: Sequence[Run]) -> dict[tuple[str, str], dict[str, Any]]:
    """(mode, order) -> the report of that kind's last round."""
    return {(run.mode, run.order): run.report for run in runs if run.report is not None}


def report_findings(result: SuiteResult, ledger: Sequence[Entry], full: bool) -> None:
    """Print each run's findings per check, each distinct finding's verdict, the verdict counts and stale entries."""
    reports = last_reports(result.runs)
    seen: dict[tuple[str, str, str, Entry | None], list[str]] = defaultdict(list)
    for (mode, order), report in reports.items():
        print_run_findings(f"{mode}/{order}", report)
        counts: Counter[str] = Counter()
        for finding in report["findings"]:
            entry = judge(finding, ledger)
            counts[entry.verdict if entry else "unjudged"] += 1
            seen[(finding["check"], finding["test"], finding["summary"], entry)].append(f"{mode}/{order}")
        result.verdicts[(mode, order)] = counts
    print_verdicts(result, seen)
    used = {entry.index for *_, entry in seen if entry}
    checks_run = {check for report in reports.values() for check in report.get("checks", [])}
    result.stale = [
        {"index": e.index, "check": e.check, "summary": e.summary.pattern, "verdict": e.verdict}
        for e in ledger
        if full and e.index not in used and e.check in checks_run
    ]
    for stale in result.stale:
        print(f"STALE ledger entry {stale['index']}: {stale['check']} /{stale['summary']}/ matched no finding")


def print_run_findings(run: str, report: dict[str, Any]) -> None:
    """A run's check errors, its findings per check and its victims."""
    for error in report.get("check_errors", []):
        print(f"!! {run} CHECK ERROR {error['check']} during {error['during']}: {error['error']}")
    per_check = Counter(finding["check"] for finding in report["findings"])
    victims = report.get("victims", [])
    print(
        f"{run}: {len(report['findings'])} finding(s), {len(victims)} victim(s); per check: "
        + (", ".join(f"{check} {n}" for check, n in sorted(per_check.items())) or "-")
    )
    for victim in victims:
        print(f"    VICTIM {victim['test']} <- {', '.join(victim['suspects'][:3])}")


def print_verdicts(result: SuiteResult, seen: dict[tuple[str, str, str, Entry | None], list[str]]) -> None:
    """One line per distinct finding and verdict: the runs that reported it; then the counts of each run."""
    for (check, test, summary, entry), runs in sorted(seen.items(), key=lambda item: item[0][:3]):
        label = entry.label if entry else "UNJUDGED"
        print(f"  {label:<28} {check:<18} {test}\n      {summary}  [{' '.join(runs)}]")
        result.findings.append(
            {
                "check": check,
                "test": test,
                "summary": summary,
                "runs": runs,
                "verdict": entry.verdict if entry else None,
                "class": entry.false_class if entry else None,
                "note": entry.note if entry else None,
            }
        )
    for (mode, order), counts in result.verdicts.items():
        total = sum(counts.values())
        false = 100 * counts["false"] / total if total else 0.0
        print(
            f"{mode}/{order}: leak {counts['leak']}, false {counts['false']}, unjudged {counts['unjudged']}"
            f" ({false:.0f}% false)"
        )


def table_rows(results: Iterable[SuiteResult]) -> list[dict[str, Any]]:
    """One row per suite, order and mode."""
    rows = []
    for result in results:
        kinds = dict.fromkeys((run.order, run.mode) for run in result.runs)
        for order, mode in kinds:
            last = [run for run in result.runs if run.order == order and run.mode == mode][-1]
            counts = result.verdicts.get((mode, order), Counter())
            diff = result.differences.get((mode, order))  # None: plain, or no plain run to compare with
            rows.append(
                {
                    "suite": result.suite.name,
                    "order": order,
                    "mode": mode,
                    "tests": len(last.outcomes),
                    "identical": None if diff is None else not diff,
                    "leak": counts["leak"],
                    "false": counts["false"],
                    "unjudged": counts["unjudged"],
                    "cpu_ratio": ratio(result.runs, mode, order, "cpu"),
                    "wall_ratio": ratio(result.runs, mode, order, "wall"),
                    "cpu_s": last.cpu,
                    "wall_s": last.wall,
                }
            )
    return rows


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    """The compact summary table."""
    header = (
        "suite",
        "order",
        "mode",
        "tests",
        "outcomes identical",
        "findings (leak/false/unjudged)",
        "CPU ratio",
        "wall ratio",
    )
    lines = [header] + [
        (
            row["suite"],
            row["order"],
            row["mode"],
            str(row["tests"]),
            "-" if row["identical"] is None else ("yes" if row["identical"] else "NO"),
            "-" if row["mode"] == "plain" else f"{row['leak']}/{row['false']}/{row['unjudged']}",
            f"{row['cpu_ratio']:.2f}" if row["cpu_ratio"] else "-",
            f"{row['wall_ratio']:.2f}" if row["wall_ratio"] else "-",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for line in lines:
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths)))


# -- main -------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options; --smoke fills in what was not given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="repeatable (default: all)")
    parser.add_argument("--modes", help="comma-separated: plain,default,all (default: all three)")
    parser.add_argument("--orders", help="comma-separated: collected,reversed (default: both)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of every run (default 1)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    parser.add_argument("--smoke", action="store_true", help="a few minutes: django-filter, some tests, default checks")
    parser.add_argument("--strict", action="store_true", help="also exit 1 when a finding is unjudged")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the summary table and findings as JSON")
    args = parser.parse_args(argv)
    args.suite = args.suite or (["django-filter"] if args.smoke else list(SUITES))
    args.modes = (args.modes or ("plain,default" if args.smoke else ",".join(MODES))).split(",")
    args.orders = (args.orders or ("collected" if args.smoke else ",".join(ORDERS))).split(",")
    if not set(args.modes) <= set(MODES) or not set(args.orders) <= set(ORDERS) or args.rounds < 1:
        parser.error(f"--modes takes {','.join(MODES)}, --orders {','.join(ORDERS)}, --rounds a number >= 1")
    args.cache = args.cache.expanduser().resolve()
    if args.cache.is_relative_to(REPO):
        parser.error("--cache must be outside the repository")
    return args


def run_suite(suite: Suite, args: argparse.Namespace) -> SuiteResult:
    """Set up, run every round, order and mode, and print what was found."""
    python = find_python(suite.python)
    source = unpacked_source(suite, args.cache, python)
    venv = venv_python(suite, args.cache, python)
    quiet([str(venv), "-m", "compileall", "-q", str(source), str(REPO / "django_isolation")])  # no run pays for it
    labels = suite.smoke_labels if args.smoke else ()
    result = SuiteResult(suite)
    for round_ in range(1, args.rounds + 1):
        for order in args.orders:
            for mode in (mode for mode in MODES if mode in args.modes):  # plain first: the round's base
                print(f"== {suite.name} round {round_}: {mode}/{order}", flush=True)
                run = run_once(suite, venv, source, args.cache, mode, order, round_, labels)
                result.runs.append(run)
                print(f"   {len(run.outcomes)} tests, exit {run.returncode}, wall {run.wall:.1f}s, CPU {run.cpu:.1f}s")
    plain = {run.order: run for run in result.runs if run.mode == "plain"}
    print(f"\n===== {suite.name} {suite.version} ({suite.runner})")
    print(order_check(suite, plain.get("collected"), plain.get("reversed")) or "reversed order: not checked")
    report_outcomes(result)
    full = not labels and set(args.modes) == set(MODES) and set(args.orders) == set(ORDERS)
    report_findings(result, load_ledger(suite.name), full)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    try:
        for name in args.suite:
            results.append(run_suite(SUITES[name], args))
    except SetupError as error:
        print(f"real_suites: {error}", file=sys.stderr)
        return 2
    rows = table_rows(results)
    print_table(rows)
    if args.json:
        findings = {result.suite.name: {"findings": result.findings, "stale": result.stale} for result in results}
        args.json.write_text(json.dumps({"rows": rows, "suites": findings}, indent=2) + "\n")
    differ = any(row["identical"] is False for row in rows)
    unjudged = any(row["unjudged"] for row in rows)
    return 1 if differ or (args.strict and unjudged) else 0


if __name__ == "__main__":
    sys.exit(main())
