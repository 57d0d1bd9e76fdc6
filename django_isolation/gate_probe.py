"""The pytest side of what ``django-isolation gate`` asks its runs (:mod:`django_isolation.gate_run`).

``--isolation-gate-probe PATH``: a ``pytest --collect-only`` run writes the
selected tests and the missing migrations. pytest-django has set Django up by
the end of collection, with the project's settings however they were given
(``--ds``, ini, environment), so the gate need not find them itself.
``--isolation-gate-survey PATH``: see :mod:`django_isolation.gate_run`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from django_isolation.gate import missing_migrations_now
from django_isolation.gate_run import MigratorSurvey


class GateProbe:
    """Writes ``{"tests": [...], "missing_migrations": {...}}`` to its path once collection is done."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        tests = [item.nodeid for item in session.items]
        data = {"tests": tests, "missing_migrations": missing_migrations_now().to_json()}
        self.path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


class GateSurvey:
    """Notes the tests that build a ``Migrator``, during their setup (the ``migrator`` fixture), call or teardown."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._running: str | None = None
        self.survey = MigratorSurvey(lambda: self._running)

    def pytest_sessionstart(self) -> None:
        self.survey.start()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._running = nodeid

    def pytest_runtest_logfinish(self) -> None:
        self._running = None

    def pytest_sessionfinish(self) -> None:
        self.survey.stop(self.path)
