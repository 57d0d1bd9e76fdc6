"""The pytest side of ``--isolation-replay-server`` (:mod:`django_isolation.replay_server`).

A plugin object, registered only with the option. Its ``pytest_runtestloop``
runs first and runs no test in this process: each request's child sets the
database options (``--create-db`` for the first, ``--isolation-gate-database``)
and runs the requested items as pytest's own loop would, the last one tearing
the session's fixtures down (pytest-django keeps the database: ``--reuse-db``).
"""

from __future__ import annotations

from typing import Any

import pytest

from django_isolation.replay_server import Request, serve, write_outcomes


class ReplayServer:
    def __init__(self, channel: str) -> None:
        self._channel = channel

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        by_id = {item.nodeid: item for item in session.items}
        serve(self._channel, lambda request: _trial(session, by_id, request))
        return True  # no test runs in the server itself


def _trial(session: pytest.Session, by_id: dict[str, pytest.Item], request: Request) -> None:
    config, database = session.config, request["database"]
    config.option.isolation_gate_database = database
    if database == "drop":
        from django_isolation.gate_database import drop_databases

        drop_databases(config)
        return
    config.option.create_db = database == "first"
    items = [by_id[test] for test in request["tests"]]
    outcomes = _Outcomes()
    config.pluginmanager.register(outcomes, "django_isolation_replay_outcomes")
    session.items = items
    for index, item in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
    write_outcomes(request["result"], outcomes.order, outcomes.failed)


class _Outcomes:
    """The tests a trial ran, in order, and those that failed in any phase."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.failed: list[str] = []

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.order.append(nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.append(report.nodeid)
