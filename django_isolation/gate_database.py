"""``--isolation-gate-database first|reuse|last`` under pytest (see :mod:`django_isolation.gate_run`).

A plugin module, registered only with the option. Right after
pytest-django's ``django_db_setup`` (the test databases are built or reused)
it copies them (``first``) or puts the copy back (``reuse``, ``last``); with
``last`` its autouse session fixture, set up before ``django_db_setup`` and so
torn down after it, destroys the test databases and their copies. With
``drop`` (and no test to run) the session's end drops the test databases and
copies that earlier runs left.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from django_isolation.gate_run import (
    database_names,
    destroy_snapshots,
    destroy_test_databases,
    drop_test_databases,
    prepare_test_databases,
)

_NAMES = pytest.StashKey[dict[str, str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.conf import settings

    if settings.configured:  # before pytest-django points the connections at the test databases
        session.config.stash[_NAMES] = database_names()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    result = yield
    if fixturedef.argname == "django_db_setup" and request.config.getoption("isolation_gate_database") != "drop":
        with request.getfixturevalue("django_db_blocker").unblock():
            prepare_test_databases(request.config.getoption("isolation_gate_database"), _verbosity(request))
    return result


@pytest.fixture(autouse=True, scope="session")
def _isolation_gate_database(request: pytest.FixtureRequest) -> Generator[None, None, None]:
    try:
        blocker: Any = request.getfixturevalue("django_db_blocker")
    except pytest.FixtureLookupError:  # pytest-django is not installed: no test database either
        blocker = None
    yield
    names = request.config.stash.get(_NAMES, {})
    if request.config.getoption("isolation_gate_database") == "last" and names and blocker is not None:
        with blocker.unblock():
            destroy_snapshots()
            destroy_test_databases(names, _verbosity(request))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.config.getoption("isolation_gate_database") == "drop":
        drop_databases(session.config)


def drop_databases(config: pytest.Config) -> None:
    """Drop the test databases and copies earlier runs left (no test database is set up in this process)."""
    with _database_blocker(config).unblock():
        drop_test_databases(int(config.option.verbose))


def _database_blocker(config: pytest.Config) -> Any:
    """pytest-django's database blocker outside a fixture: on ``config.stash`` (4.9+) or a module global before."""
    from pytest_django import plugin

    key = getattr(plugin, "blocking_manager_key", None)
    return config.stash[key] if key is not None else plugin._blocking_manager  # type: ignore[attr-defined]


def _verbosity(request: pytest.FixtureRequest) -> int:
    return int(request.config.option.verbose)  # as pytest-django passes it to setup_databases
