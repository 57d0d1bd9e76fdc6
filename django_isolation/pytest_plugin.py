"""The pytest entry point (``pytest11``): options only, so that it costs nothing when off.

Django and the engine are imported only when ``--isolation-check`` (or
``--isolation-report`` / ``--isolation-fail``, their ``DJANGO_ISOLATION_*``
variables or ini values) turns the checks on; then
:class:`django_isolation.pytest_session.IsolationPlugin` is registered.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from django_isolation.options import GATE_DATABASE_USES, OPTIONS, resolve

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
        "--isolation-replay",
        dest="isolation_replay",
        metavar="FILE",
        help="run exactly the tests FILE lists (one node id a line, # comments), in that order, after any "
        "reordering (pytest-django's database tests first, -p randomly)",
    )
    group.addoption(
        "--isolation-gate-survey",
        dest="isolation_gate_survey",
        metavar="FILE",
        help="(used by django-isolation gate) write the tests that built a django-test-migrations Migrator to FILE",
    )
    group.addoption(
        "--isolation-gate-database",
        dest="isolation_gate_database",
        choices=GATE_DATABASE_USES,
        help="(used by django-isolation gate and find-polluter, with --reuse-db) first: copy the test databases "
        "once built; reuse: start from that copy; last: start from it, destroy the databases and the copies at the "
        "end; drop: run no test, drop the test databases and copies left by earlier runs",
    )
    group.addoption(
        "--isolation-replay-server",
        dest="isolation_replay_server",
        metavar="R:W",
        help="(used by django-isolation find-polluter, with --isolation-replay) run each trial read from file "
        "descriptor R in a forked child; answer on W",
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
    order, replay = session.config.getoption("isolation_order"), session.config.getoption("isolation_replay")
    try:
        if order and replay:
            raise ValueError("--isolation-order and --isolation-replay exclude each other")
        if order:
            from django_isolation.gate import Order

            Order.parse(order).apply(session.items)
        elif replay:
            _replay(session, replay)
    except ValueError as error:
        raise pytest.UsageError(f"django-isolation: {error}") from None


def _replay(session: pytest.Session, path: str) -> None:
    from django_isolation.gate_run import read_replay, replayed

    items, others = replayed(session.items, read_replay(path), lambda item: item.nodeid)
    session.items[:] = items
    if others:
        session.config.hook.pytest_deselected(items=others)


class _ReplayCollection:
    """Under ``--isolation-replay``: collect only the files of the listed tests (and the directories above them)."""

    def __init__(self, config: pytest.Config) -> None:
        from django_isolation.gate_run import read_replay

        try:
            listed = read_replay(config.getoption("isolation_replay"))
        except ValueError as error:
            raise pytest.UsageError(f"django-isolation: {error}") from None
        self._files = {Path(os.path.normpath(config.rootpath / test.split("::")[0])) for test in listed}
        self._directories = {directory for file in self._files for directory in file.parents}

    def pytest_ignore_collect(self, collection_path: Path) -> bool | None:
        if collection_path in self._directories or collection_path in self._files:
            return None
        return collection_path.suffix == ".py" or collection_path.is_dir() or None


def _django_tags(item: pytest.Item) -> set[str]:
    """The tags ``django.test.tag`` put on a unittest test method or its class."""
    tags: set[str] = getattr(getattr(item, "cls", None), "tags", set())
    return set(tags) | set(getattr(getattr(item, "obj", None), "tags", set()))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "isolation_allow(*patterns): leaks of this test that django-isolation should not report"
    )
    probe, survey = config.getoption("isolation_gate_probe"), config.getoption("isolation_gate_survey")
    if probe or survey or config.getoption("isolation_gate_database"):
        from django_isolation import gate_probe

        if probe:
            config.pluginmanager.register(gate_probe.GateProbe(probe), "django_isolation_gate_probe")
        if survey:
            config.pluginmanager.register(gate_probe.GateSurvey(survey), "django_isolation_gate_survey")
        if config.getoption("isolation_gate_database"):
            config.pluginmanager.import_plugin("django_isolation.gate_database")
    if config.getoption("isolation_replay"):
        config.pluginmanager.register(_ReplayCollection(config), "django_isolation_replay")
    if config.getoption("isolation_replay_server"):
        from django_isolation.pytest_replay_server import ReplayServer

        config.pluginmanager.register(
            ReplayServer(config.getoption("isolation_replay_server")), "django_isolation_server"
        )
    cli = {option.dest: config.getoption(option.dest) for option in OPTIONS}
    try:
        settings = resolve(cli, os.environ, lambda name: str(config.getini(name)))
    except ValueError as error:
        raise pytest.UsageError(f"django-isolation: {error}") from None
    if not settings.enabled:
        return
    _import_without_assertion_rewriting(config)
    from django_isolation import pytest_xdist

    if pytest_xdist.is_controller(config):  # pytest-xdist's controller: the workers check, it merges
        config.pluginmanager.register(pytest_xdist.ControllerPlugin(settings), SESSION_PLUGIN_NAME)
        return
    from django_isolation.pytest_session import IsolationPlugin

    config.pluginmanager.register(IsolationPlugin(settings, pytest_xdist.worker_id(config)), SESSION_PLUGIN_NAME)


def _import_without_assertion_rewriting(config: pytest.Config) -> None:
    """Let the package's modules be imported as any library's are, not through pytest's assertion rewriting.

    pytest rewrites every module of a plugin's distribution, and reads a rewritten module's cached code with
    ``marshal.load`` on a file object, one buffered read per object: importing the engine and the checks that way
    cost about 150 M instructions more a run (pytest 9, Python 3.11). The package has no ``assert`` for pytest to
    explain. The rewrite hook caches its decision per module name (``_marked_for_rewrite_cache``, pytest 7 to 9);
    the names of the package's and its checks' modules not imported yet are entered there as not rewritten.
    Without that cache (another pytest), nothing changes but the cost.
    """
    cache = getattr(getattr(config.pluginmanager, "rewrite_hook", None), "_marked_for_rewrite_cache", None)
    if not isinstance(cache, dict):
        return
    root = os.path.dirname(__file__)
    for folder, package in ((root, __package__), (os.path.join(root, "checks"), f"{__package__}.checks")):
        for name in os.listdir(folder):
            if name.endswith(".py"):
                cache.setdefault(package if name == "__init__.py" else f"{package}.{name[:-3]}", False)
