"""Helpers for real runs of pytest and ``manage.py test`` against testproject, on whichever database is configured.

``DATABASE_URL`` (unset: SQLite; ``postgres://...``: PostgreSQL) is passed on to
every run, so the same tests prove both databases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTEST_DJANGO = tuple(int(part) for part in version("pytest-django").split(".")[:2])
RUNNERS = ("django", "pytest")
SETTINGS = "testproject.settings"
# Set by each run itself, never inherited from the shell that runs the toolkit's tests.
_CONTROLLED = frozenset(
    {
        "DJANGO_SETTINGS_MODULE",
        "PYTEST_ADDOPTS",
        "DJANGO_ISOLATION_CHECK",
        "DJANGO_ISOLATION_CHECKS",
        "DJANGO_ISOLATION_REPORT",
        "DJANGO_ISOLATION_FAIL",
    }
)


@dataclass
class Run:
    """A finished run: exit status, combined output and the JSON report if one was written."""

    returncode: int
    output: str
    report: dict[str, Any] | None

    @property
    def findings(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.output
        return list(self.report["findings"])

    @property
    def polluters(self) -> list[str]:
        return list(dict.fromkeys(f["test"] for f in self.findings))

    @property
    def victims(self) -> dict[str, list[str]]:
        assert self.report is not None, self.output
        return {v["test"]: v["suspects"] for v in self.report["victims"]}


def run(command: list[str], cwd: Path, report: Path | None = None, **env: str) -> Run:
    """Run `command` in `cwd` with the repository and `cwd` importable."""
    inherited = {k: v for k, v in os.environ.items() if k not in _CONTROLLED}
    environ = {**inherited, "PYTHONPATH": os.pathsep.join([str(REPO), str(cwd)]), **env}
    environ.setdefault("TESTPROJECT_TEST_DB", f"selftest_{os.getpid()}")
    done = subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300, check=False)
    data = json.loads(report.read_text()) if report is not None and report.exists() else None
    return Run(done.returncode, done.stdout + done.stderr, data)


def manage_test(cwd: Path, *args: str, settings: str = SETTINGS, report: Path | None = None, **env: str) -> Run:
    """``python manage.py test --noinput ARGS`` (testproject's runner is IsolationRunner)."""
    command = [sys.executable, str(REPO / "manage.py"), "test", "--noinput", *args]
    return run(command, cwd, report, DJANGO_SETTINGS_MODULE=settings, **env)


def run_pytest(cwd: Path, *args: str, settings: str = SETTINGS, report: Path | None = None, **env: str) -> Run:
    """``python -m pytest ARGS`` with testproject's settings, in one process (this repository's ini asks for workers)."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", f"--ds={settings}", *args]
    return run(command, cwd, report, **env)


KEPT_DATABASE_SETTINGS = """
    import os

    from testproject.settings import *  # noqa: F403

    if "sqlite" in DATABASES["default"]["ENGINE"]:  # noqa: F405 - a file, so that runs can keep it
        for _alias, _database in DATABASES.items():  # noqa: F405
            _database["TEST"] = {"NAME": os.path.join(os.path.dirname(__file__), f"gate_test_{_alias}.sqlite3")}
"""
"""Settings of testproject whose SQLite test databases are files (``--keepdb`` / ``--reuse-db`` keep them)."""


def left_test_database(root: Path) -> bool:
    """Whether a test database of :data:`KEPT_DATABASE_SETTINGS` in `root` (or PostgreSQL's) is still there."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return any(root.glob("gate_test_*.sqlite3"))
    import psycopg2

    name = f"test_testproject_default_{os.environ.get('TESTPROJECT_TEST_DB', f'selftest_{os.getpid()}')}"
    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname LIKE %s", [f"{name}%"])
            return cursor.fetchone() is not None
    finally:
        connection.close()


class Scenario:
    """A throwaway test package ``scenario`` in a temporary directory, run by one runner."""

    def __init__(self, root: Path, runner: str) -> None:
        self.root = root
        self.runner = runner
        self.report_path = root / "report.json"
        (root / "scenario").mkdir()
        (root / "scenario" / "__init__.py").write_text("")

    def write(self, name: str, source: str) -> None:
        """Write ``scenario/<name>`` (a path such as ``test_x.py``)."""
        path = self.root / "scenario" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))

    def run(self, *args: str, check: bool = True, checks: str = "all", settings: str = SETTINGS, **env: str) -> Run:
        """Run the scenario package with `checks` (every check) and a report, unless `check` is False."""
        options = ["--isolation-checks", checks, "--isolation-report", str(self.report_path)] if check else []
        if self.runner == "django":
            return manage_test(
                self.root, *options, *args, "scenario", settings=settings, report=self.report_path, **env
            )
        options = ["-p", "no:randomly", *options, *args, "scenario"]
        return run_pytest(self.root, *options, settings=settings, report=self.report_path, **env)

    def test_id(self, module: str, *names: str) -> str:
        """The id each runner gives ``scenario/<module>.py``'s class or test `names`."""
        if self.runner == "django":
            return ".".join(["scenario", module, *names])
        return "::".join([f"scenario/{module}.py", *names])


def skip_if_pytest_django_serializes_every_table(scenario: Scenario) -> None:
    """Skip a pytest scenario whose models have no table under pytest-django before 4.11, which serializes every
    table's rows when it sets the test database up (and fails there, with or without the toolkit)."""
    if scenario.runner == "pytest" and PYTEST_DJANGO < (4, 11):
        pytest.skip("pytest-django before 4.11 serializes every table at set-up: the scenario's model has none")
