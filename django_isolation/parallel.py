"""The Django front under ``manage.py test --parallel N``: each worker process checks its own tests.

Django runs each test class (a *subsuite*) in one of N worker processes, each
on its own clone of the test database (``test_x_1``, ``test_x_2``).
:class:`IsolationParallelTestSuite` runs every subsuite under a front and an
engine of the worker's own, started before the worker's first class, so that
the database checks read the worker's clone and never the template, and a
failure is linked only to the leaks live in its own worker.

unittest's results cross processes as pickled events, which cannot carry
findings; so after each class a worker writes its report so far to
``worker-<id>.json`` in a directory the main process made and owns (a crash
loses at most the class that was running). The main process
(:func:`gathered`) merges those files into one report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.test import runner as django_runner
from django.test.runner import ParallelTestSuite

from django_isolation import allow, checks
from django_isolation.engine import Engine
from django_isolation.options import Settings
from django_isolation.report import merge, to_json
from django_isolation.suite import IsolationFront

_FRONT: IsolationFront | None = None  # this worker process's, made for its first class


def _run_checked_subsuite(args: tuple[Any, ...]) -> Any:
    """Django's ``_run_subsuite``, with the subsuite's boundaries reported to this worker's front."""
    subsuite = args[2]
    config: dict[str, Any] = subsuite.isolation_config
    front = _worker_front(config)
    subsuite.front = front
    try:
        return django_runner._run_subsuite(args)
    finally:
        _write(front, Path(config["directory"]))


class IsolationParallelTestSuite(ParallelTestSuite):
    """Django's parallel suite whose workers run the checks on their own engines."""

    run_subsuite = _run_checked_subsuite  # a module-level function: the pool pickles it by name

    def prepare(self, settings: Settings) -> Path:
        """Give every subsuite what its worker needs; return the directory the workers write to."""
        directory = Path(tempfile.mkdtemp(prefix="django-isolation-parallel-"))
        config = {
            "checks": settings.checks,
            "fail": settings.fail,
            "allow": settings.allow,
            "directory": str(directory),
        }
        for subsuite in self.subsuites:
            subsuite.isolation_config = config
        return directory


def _worker_front(config: dict[str, Any]) -> IsolationFront:
    global _FRONT  # one front a worker process, kept between its classes
    if _FRONT is None:
        name = f"worker-{django_runner._worker_id}"
        engine = Engine(
            checks.create(config["checks"]), runner="django", worker=name, allow=allow.split(config["allow"])
        )
        engine.start()
        _FRONT = IsolationFront(engine, config["fail"])
    return _FRONT


def _write(front: IsolationFront, directory: Path) -> None:
    """This worker's report so far, replacing the last one (written whole, then renamed)."""
    data = {"report": to_json(front.engine.snapshot()), "leak_errors": front.leak_errors}
    target = directory / f"worker-{django_runner._worker_id}.json"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(data) + "\n", encoding="utf-8")
    os.replace(partial, target)


def gathered(directory: Path) -> tuple[dict[str, Any], int]:
    """The merged report of the workers' files in `directory`, and their leak errors; the directory is removed."""
    outputs = {
        path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("worker-*.json"))
    }
    shutil.rmtree(directory)
    reports = {name: output["report"] for name, output in outputs.items()}
    return merge(reports), sum(output["leak_errors"] for output in outputs.values())
