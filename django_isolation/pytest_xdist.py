"""The pytest front under pytest-xdist: each worker checks its own tests; the controller merges their reports.

Every worker runs :class:`~django_isolation.pytest_session.IsolationPlugin`
with an engine of its own, named after the worker (``gw0``): attribution,
victim linking (a leak on ``gw1`` is never a suspect for a failure on
``gw0``) and ``--isolation-fail`` happen there, as in a serial run. At its
session's end a worker puts its report into xdist's ``workeroutput``, which
xdist sends to the controller when the worker finishes. The controller
(:class:`ControllerPlugin`, no engine, no checks) merges the reports
(:func:`django_isolation.report.merge`) into one terminal summary and one
JSON report.

The channel is ``workeroutput`` because it needs no file and no other
transport: it is what xdist hands over on every ``--dist`` mode, with
``-n auto`` and remote workers. Its limit: a worker that crashes sends
nothing, so the findings of its tests are lost; the merged report lists that
worker under ``workers`` with the error xdist gave, and the terminal says so.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from django_isolation import checks
from django_isolation.options import EXIT_LEAKS_ONLY, Settings
from django_isolation.report import TITLE, header, merge, render_text, write_json

WORKER_OUTPUT: Final = "django_isolation"


def is_controller(config: pytest.Config) -> bool:
    """Whether this process is pytest-xdist's controller, which runs no test (as xdist itself decides)."""
    distributing = getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "tx", None))
    return distributing and not hasattr(config, "workerinput") and not config.getoption("collectonly")


def worker_id(config: pytest.Config) -> str | None:
    """This worker's id (``gw0``), or None outside a worker."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


def hand_over(config: pytest.Config, report: dict[str, Any], leak_errors: int, other_failures: int) -> None:
    """On a worker: give the controller this worker's report and how many of its failures were leaks."""
    output = config.workeroutput  # type: ignore[attr-defined]
    output[WORKER_OUTPUT] = {"report": report, "leak_errors": leak_errors, "other_failures": other_failures}


class ControllerPlugin:
    """Gathers the workers' reports; prints and writes the merged one; sets the leaks-only exit status."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.check_names = [check.name for check in checks.create(settings.checks)]
        except ValueError as error:
            raise pytest.UsageError(f"django-isolation: {error}") from None
        self._outputs: dict[str, dict[str, Any]] = {}
        self._workers: dict[str, str] = {}
        self._report: dict[str, Any] | None = None

    def pytest_report_header(self) -> str:
        return self._header()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from django_isolation.pytest_session import write_header_when_quiet

        write_header_when_quiet(session, self._header())

    def _header(self) -> str:
        return header(self.settings, self.check_names) + " (each pytest-xdist worker checks its own tests)"

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        worker = str(node.gateway.id)
        output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
        if output is None:
            self._workers[worker] = f"lost: {error or 'it sent no report'}"
            return
        self._outputs[worker] = output
        self._workers[worker] = "finished"

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self._workers:
            return
        reports = {worker: output["report"] for worker, output in self._outputs.items()}
        self._report = merge(reports, self._workers)
        if self.settings.report:
            write_json(self._report, self.settings.report)
        leak_errors = sum(output["leak_errors"] for output in self._outputs.values())
        other_failures = sum(output["other_failures"] for output in self._outputs.values())
        if leak_errors and not other_failures and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = EXIT_LEAKS_ONLY

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._report is not None:
            terminalreporter.write_sep("=", TITLE)
            terminalreporter.write_line(render_text(self._report))
