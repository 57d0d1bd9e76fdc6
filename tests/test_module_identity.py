"""The module_identity check: the djust story (a re-import that desyncs a package from sys.modules) caught with its
polluter, the re-import's line and its victim, and quiet on re-imports that restore both and on first imports."""

from __future__ import annotations

import textwrap

from runs import Scenario

CHECKS = "module_identity,module_attributes"

DJUSTLIKE = {
    "djustlike/__init__.py": "",
    "djustlike/checks.py": """
        def _has_asgi_server():
            return True


        def check_configuration():
            return [] if _has_asgi_server() else ["C003"]
    """,
}

# djust #1741: the fixture evicts and re-imports the module, then restores sys.modules but not the package attribute.
DJUST_POLLUTER_PYTEST = """
    import importlib
    import sys

    import pytest


    @pytest.fixture
    def block_watchdog():
        saved = sys.modules.pop("scenario.djustlike.checks")
        importlib.import_module("scenario.djustlike.checks")  # @reimport
        yield
        sys.modules["scenario.djustlike.checks"] = saved


    def test_survives_without_watchdog(block_watchdog):
        assert "scenario.djustlike.checks" in sys.modules
"""

DJUST_POLLUTER_UNITTEST = """
    import importlib
    import sys
    from unittest import TestCase


    class WatchdogTests(TestCase):
        def test_survives_without_watchdog(self):
            saved = sys.modules.pop("scenario.djustlike.checks")
            self.addCleanup(sys.modules.__setitem__, "scenario.djustlike.checks", saved)
            importlib.import_module("scenario.djustlike.checks")  # @reimport
"""

DJUST_VICTIM = """
    from unittest import TestCase, mock

    from scenario.djustlike import checks
    from scenario.djustlike.checks import check_configuration


    class CheckTests(TestCase):
        def test_c003_fires_without_asgi_server(self):
            from scenario.djustlike import checks  # the package attribute, as djust's test did
            with mock.patch.object(checks, "_has_asgi_server", lambda: False):
                self.assertEqual(check_configuration(), ["C003"])
"""


def line_of(source: str, marker: str) -> int:
    lines = textwrap.dedent(source).splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.rstrip().endswith(f"# @{marker}"))


def write_djust(scenario: Scenario, polluter: str) -> None:
    for name, source in DJUSTLIKE.items():
        scenario.write(name, source)
    scenario.write("test_a_watchdog.py", polluter)
    scenario.write("test_b_checks.py", DJUST_VICTIM)


def test_djust_desync_is_caught_with_the_reimport_and_its_victim(scenario: Scenario) -> None:
    polluter = DJUST_POLLUTER_PYTEST if scenario.runner == "pytest" else DJUST_POLLUTER_UNITTEST
    write_djust(scenario, polluter)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output  # the victim fails, as in djust
    [finding] = run.findings
    polluter_id = (
        scenario.test_id("test_a_watchdog", "test_survives_without_watchdog")
        if scenario.runner == "pytest"
        else scenario.test_id("test_a_watchdog", "WatchdogTests", "test_survives_without_watchdog")
    )
    assert finding["test"] == polluter_id
    assert finding["check"] == "module_identity"
    assert finding["details"]["change"] == "desynced"
    assert finding["details"]["module"] == "scenario.djustlike.checks"
    assert finding["summary"] == (
        "scenario.djustlike.checks and sys.modules['scenario.djustlike.checks'] are different module objects"
    )
    assert "scenario/djustlike/checks.py" in finding["details"]["package_attribute"]
    # Named by serial, not address: the first object under the name, and the re-imported one.
    assert {finding["details"]["package_attribute"], finding["details"]["sys_modules_entry"]} == {
        "module #1 from scenario/djustlike/checks.py",
        "module #2 from scenario/djustlike/checks.py",
    }
    reimport = {
        "file": "scenario/test_a_watchdog.py",
        "line": line_of(polluter, "reimport"),
        "function": "block_watchdog" if scenario.runner == "pytest" else "test_survives_without_watchdog",
    }
    assert finding["origin"][0] == reimport
    victim = scenario.test_id("test_b_checks", "CheckTests", "test_c003_fires_without_asgi_server")
    assert run.victims == {victim: [polluter_id]}


RESTORED_PYTEST = """
    import importlib
    import sys

    import pytest

    import scenario.djustlike


    @pytest.fixture
    def block_watchdog(monkeypatch):
        monkeypatch.setitem(sys.modules, "scenario.djustlike.checks", sys.modules["scenario.djustlike.checks"])
        monkeypatch.setattr(scenario.djustlike, "checks", scenario.djustlike.checks)
        monkeypatch.delitem(sys.modules, "scenario.djustlike.checks")
        importlib.import_module("scenario.djustlike.checks")
        yield


    def test_survives_without_watchdog(block_watchdog):
        assert "scenario.djustlike.checks" in sys.modules


    def test_first_import_is_normal():
        import json.tool  # noqa: F401 - not imported before this test
"""

RESTORED_UNITTEST = """
    import importlib
    import sys
    from unittest import TestCase, mock

    import scenario.djustlike


    class WatchdogTests(TestCase):
        def test_survives_without_watchdog(self):
            original = scenario.djustlike.checks
            self.addCleanup(setattr, scenario.djustlike, "checks", original)
            with mock.patch.dict(sys.modules):
                del sys.modules["scenario.djustlike.checks"]
                importlib.import_module("scenario.djustlike.checks")

        def test_first_import_is_normal(self):
            import json.tool  # noqa: F401 - not imported before this test
"""


def test_reimport_that_restores_module_and_attribute_is_quiet(scenario: Scenario) -> None:
    write_djust(scenario, RESTORED_PYTEST if scenario.runner == "pytest" else RESTORED_UNITTEST)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 3  # type: ignore[index]
    assert run.findings == []


REPLACED = """
    import importlib
    import sys
    from unittest import TestCase

    import scenario.djustlike.checks


    class ReplaceTests(TestCase):
        def test_reimports_for_good(self):
            del sys.modules["scenario.djustlike.checks"]
            importlib.import_module("scenario.djustlike.checks")  # @reimport

        def test_removes(self):
            import scenario.djustlike
            self.addCleanup(setattr, scenario.djustlike, "checks", scenario.djustlike.checks)
            del sys.modules["scenario.djustlike"]
"""


def test_replaced_and_removed_entries_are_caught(scenario: Scenario) -> None:
    for name, source in DJUSTLIKE.items():
        scenario.write(name, source)
    scenario.write("test_replace.py", REPLACED)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    found = {(f["test"].rpartition(".")[2].rpartition(":")[2], f["details"]["change"]): f for f in run.findings}
    assert set(found) == {("test_reimports_for_good", "replaced"), ("test_removes", "removed")}, run.findings
    replaced = found[("test_reimports_for_good", "replaced")]
    assert replaced["summary"] == "sys.modules['scenario.djustlike.checks'] replaced by another module object"
    assert replaced["origin"][0]["line"] == line_of(REPLACED, "reimport")
    assert found[("test_removes", "removed")]["details"]["module"] == "scenario.djustlike"


UNLOAD_LOOP = """
    import sys
    from unittest import TestCase

    import scenario.plugins.alpha
    import scenario.plugins.beta


    class UnloadTests(TestCase):
        def test_unloads_the_plugins(self):
            for name in [n for n in sys.modules if n.startswith("scenario.plugins")]:
                del sys.modules[name]
"""


def test_a_del_sys_modules_loop_is_one_finding_listing_the_modules(scenario: Scenario) -> None:
    for name in ("plugins/__init__.py", "plugins/alpha.py", "plugins/beta.py"):
        scenario.write(name, "")
    scenario.write("test_unload.py", UNLOAD_LOOP)
    run = scenario.run(checks="module_identity")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["summary"] == (
        "3 modules of scenario removed from sys.modules: scenario.plugins, scenario.plugins.alpha, scenario.plugins.beta"
    )
    assert finding["details"]["modules"] == ["scenario.plugins", "scenario.plugins.alpha", "scenario.plugins.beta"]


WIDGETS = """
    from django.db import models


    class Widget:
        pass


    def render(widget):
        return "widget"


    class Gadget(models.Model):
        class Meta:
            app_label = "shop"
"""

RELOAD = """
    import importlib
    from unittest import TestCase

    from scenario import widgets


    class ReloadTests(TestCase):
        def test_reloads_the_widgets(self):
            importlib.reload(widgets)  # @reload
"""


def test_a_module_reload_is_one_finding(scenario: Scenario) -> None:
    """Not one per replaced class, method and model: the reload, with what it replaced and where it ran."""
    scenario.write("widgets.py", WIDGETS)
    scenario.write("test_reload.py", RELOAD)
    run = scenario.run(checks="module_identity,module_attributes,apps_registry", PYTHONWARNINGS="ignore")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["summary"] == "module scenario.widgets reloaded: 3 classes and functions replaced, 1 model(s) re-registered"
    assert finding["origin"][0]["line"] == line_of(RELOAD, "reload")
    assert finding["details"]["same_cause"] == [
        "apps_registry: model shop.Gadget replaced in the apps registry by another class"
    ]


SWAPPED = """
    import sys
    import types
    from unittest import TestCase

    import scenario.djustlike
    import scenario.djustlike.checks


    class SwapTests(TestCase):
        def test_swaps_the_package_attribute(self):
            scenario.djustlike.checks = types.ModuleType("scenario.djustlike.checks")

        def test_swaps_an_entry_and_puts_it_back(self):
            saved = sys.modules["scenario.djustlike"]
            sys.modules["scenario.djustlike"] = types.ModuleType("scenario.djustlike")
            sys.modules["scenario.djustlike"] = saved
"""


def test_swaps_by_plain_assignment_are_caught_where_the_module_ends(scenario: Scenario) -> None:
    """No import runs, sys.modules keeps its size: the module's end compares entries and package attributes."""
    for name, source in DJUSTLIKE.items():
        scenario.write(name, source)
    scenario.write("test_swap.py", SWAPPED)
    run = scenario.run(checks="module_identity")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["details"]["change"] == "desynced"
    assert finding["details"]["module"] == "scenario.djustlike.checks"
    assert finding["details"]["scope"] == "module"


AFTER_FIRST_IMPORTS = """
    import importlib
    import sys
    from unittest import TestCase

    import scenario.djustlike
    import scenario.extra.a


    class LaterImportTests(TestCase):
        def test_1_imports_first(self):
            import scenario.extra.b  # noqa: F401 - a first import: normal

        def test_2_removes(self):
            import scenario.extra.c  # noqa: F401
            del sys.modules["scenario.djustlike"]

        def test_3_imports_first_again(self):
            import scenario.extra.d  # noqa: F401 - the removal above is still live, and still its leak

        def test_4_reloads(self):
            import scenario.extra.e  # noqa: F401
            importlib.reload(scenario.extra.a)
"""


def test_leaks_around_first_imports_are_each_found_once(scenario: Scenario) -> None:
    """A capture after first imports only reads the new entries; what was found before stays found, once, with its
    polluter, and a removal or a reload next to a first import is still the test's."""
    for name in ("djustlike/__init__.py", *(f"extra/{n}.py" for n in ("__init__", "a", "b", "c", "d", "e"))):
        scenario.write(name, "")
    scenario.write("test_later.py", AFTER_FIRST_IMPORTS)
    run = scenario.run(checks="module_identity")
    assert run.returncode == 0, run.output
    found = {(f["test"].rpartition(".")[2].rpartition(":")[2], f["details"]["change"]) for f in run.findings}
    assert found == {("test_2_removes", "removed"), ("test_4_reloads", "reloaded")}, run.findings
    assert not any("cleaned_by" in f["details"] for f in run.findings), run.findings
