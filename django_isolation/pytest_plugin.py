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
    group.addoption(
        "--isolation-order",
        dest="isolation_order",
        metavar="ORDER",
        help="run the selected tests in this order: collected, reversed or shuffled:SEED (the gate's orders)",
    )
    group.addoption(
        "--isolation-tags-as-markers",
        dest="isolation_tags_as_markers",
        action="store_true",
        default=False,
        help="give unittest-style tests their Django @tag names as markers, so that -m selects them",
    )
    group.addoption(
        "--isolation-gate-probe",
        dest="isolation_gate_probe",
        metavar="PATH",
        help="(used by django-isolation gate) write the collected tests and the missing migrations to PATH",
    )


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("isolation_tags_as_markers"):
        for item in items:
            for tag in _django_tags(item):
                config.addinivalue_line("markers", f"{tag}: Django test tag")
                item.add_marker(tag)


@pytest.hookimpl(trylast=True)  # after every selection and any other reordering plugin
def pytest_collection_finish(session: pytest.Session) -> None:
    order = session.config.getoption("isolation_order")
    if order:
        from django_isolation.gate import Order

        try:
            Order.parse(order).apply(session.items)
        except ValueError as error:
            raise pytest.UsageError(f"django-isolation: {error}") from None


def _django_tags(item: pytest.Item) -> set[str]:
    """The tags ``django.test.tag`` put on a unittest test method or its class."""
    tags: set[str] = getattr(getattr(item, "cls", None), "tags", set())
    return set(tags) | set(getattr(getattr(item, "obj", None), "tags", set()))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "isolation_allow(*patterns): leaks of this test that django-isolation should not report"
    )
    probe = config.getoption("isolation_gate_probe")
    if probe:
        from django_isolation.gate_probe import GateProbe

        config.pluginmanager.register(GateProbe(probe), "django_isolation_gate_probe")
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
