"""The pytest entry point (``pytest11``): options only, so that it costs nothing when off.

Django and the engine are imported only when ``--isolation-check`` (or
``--isolation-report`` / ``--isolation-fail``, their ``DJANGO_ISOLATION_*``
variables or ini values) turns the checks on; then
:class:`django_isolation.pytest_session.IsolationPlugin` is registered.
"""

from __future__ import annotations

import os

import pytest

from django_isolation.options import OPTIONS, resolve

SESSION_PLUGIN_NAME = "django_isolation_session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("django-isolation", "test isolation checks (django-isolation)")
    for option in OPTIONS:
        if option.is_flag:
            group.addoption(option.flag, dest=option.dest, action="store_true", default=False, help=option.help)
        else:
            group.addoption(option.flag, dest=option.dest, metavar=option.metavar, default=None, help=option.help)
        parser.addini(option.ini, f"same as {option.flag}", default="")


def pytest_configure(config: pytest.Config) -> None:
    cli = {option.dest: config.getoption(option.dest) for option in OPTIONS}
    try:
        settings = resolve(cli, os.environ, lambda name: str(config.getini(name)))
    except ValueError as error:
        raise pytest.UsageError(f"django-isolation: {error}") from None
    if not settings.enabled:
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("django-isolation: pytest-xdist (-n) is not supported yet; run without -n")
    from django_isolation.pytest_session import IsolationPlugin

    config.pluginmanager.register(IsolationPlugin(settings), SESSION_PLUGIN_NAME)
