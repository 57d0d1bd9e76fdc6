"""``--isolation-gate-database first|reuse|last`` under pytest (see :mod:`django_isolation.gate_run`).

A plugin module, registered only with the option. Right after
pytest-django's ``django_db_setup`` (the test databases are built or reused)
it copies them (``first``) or puts the copy back (``reuse``, ``last``); with
``last`` its autouse session fixture, set up before ``django_db_setup`` and so
torn down after it, destroys the test databases and their copies.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from django_isolation.gate_run import database_names, destroy_snapshots, destroy_test_databases, prepare_test_databases

_NAMES = pytest.StashKey[dict[str, str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.conf import settings

    if settings.configured:  # before pytest-django points the connections at the test databases
        session.config.stash[_NAMES] = database_names()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
    result = yield
    if fixturedef.argname == "django_db_setup":
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


def _verbosity(request: pytest.FixtureRequest) -> int:
    return int(request.config.option.verbose)  # as pytest-django passes it to setup_databases
