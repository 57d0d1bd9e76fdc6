"""The ``subclasses`` check under both runners: a class a test defines outlives it in ``__subclasses__()``; caught
when something walks that hierarchy, with the line of the class statement; quiet when nothing does; and the
founding case (a local ``ForeignKey`` subclass, a later test walking every ``Field`` subclass) ends in
find-polluter naming the test that defined it."""

from __future__ import annotations

import json
import sys
import textwrap
from typing import Any

from runs import Scenario, run

FIELD_WALK = """
    import gc

    from django.db import models
    from django.test import SimpleTestCase


    def setUpModule():
        gc.disable()  # the defining test's class is alive at its end, as it is whenever the collector has not run


    def tearDownModule():
        gc.enable()


    def every_subclass(cls):
        return [cls, *(found for sub in cls.__subclasses__() for found in every_subclass(sub))]


    class FieldTests(SimpleTestCase):
        def test_a_custom_foreign_key(self):
            class CustomForeignKey(models.ForeignKey):
                pass

            self.assertTrue(issubclass(CustomForeignKey, models.Field))

        def test_b_every_field_has_a_form_field(self):
            local = [field.__name__ for field in every_subclass(models.Field) if "<locals>" in field.__qualname__]
            self.assertEqual(local, [])
"""

NOTHING_WALKS = """
    from django import forms
    from django.db import models
    from django.test import SimpleTestCase


    class FieldTests(SimpleTestCase):
        def test_a_custom_foreign_key(self):
            class CustomForeignKey(models.ForeignKey):
                pass

            class SearchForm(forms.Form):
                query = forms.CharField()

            self.assertTrue(SearchForm({"query": "x"}).is_valid())
"""

PLUGINS = """
    import gc

    from django.test import SimpleTestCase


    def setUpModule():
        gc.disable()  # the defining test's class is alive at its end, as it is whenever the collector has not run


    def tearDownModule():
        gc.enable()


    class Plugin:
        pass


    class CSVExport(Plugin):
        pass


    def plugin_names():
        return sorted(plugin.__name__ for plugin in {walked}.__subclasses__())


    class PluginTests(SimpleTestCase):
        def test_a_fake_plugin(self):
            class FakePlugin(Plugin):
                pass

            self.assertTrue(issubclass(FakePlugin, Plugin))

        def test_b_the_registered_plugins(self):
            self.assertEqual(plugin_names(), {expected})

        def test_c_a_local_form(self):
            from django import forms

            class SearchForm(forms.Form):
                query = forms.CharField()

            self.assertTrue(SearchForm({{"query": "x"}}).is_valid())
"""


def line_of(text: str) -> int:
    return next(number for number, line in enumerate(textwrap.dedent(FIELD_WALK).splitlines(), 1) if text in line)


def only(run: Any, check: str) -> list[dict[str, Any]]:
    return [finding for finding in run.findings if finding["check"] == check]


def test_a_local_field_subclass_is_caught_when_a_test_walks_every_field_subclass(scenario: Scenario) -> None:
    scenario.write("test_fields.py", FIELD_WALK)
    done = scenario.run(checks="subclasses")
    assert done.returncode == 1, done.output  # the walker fails, as it would without the toolkit
    polluter = scenario.test_id("test_fields", "FieldTests", "test_a_custom_foreign_key")
    [finding] = only(done, "subclasses")
    assert finding["test"] == polluter
    assert finding["summary"].startswith(
        "class FieldTests.test_a_custom_foreign_key.<locals>.CustomForeignKey still listed by "
        f"ForeignKey.__subclasses__(), in Field's hierarchy (walked at scenario/test_fields.py:{line_of('every_subclass(models.Field)')})"
    ), finding["summary"]
    line = line_of("class CustomForeignKey(models.ForeignKey):")
    assert finding["origin"][0]["line"] == line and finding["origin"][0]["file"] == "scenario/test_fields.py"
    victim = scenario.test_id("test_fields", "FieldTests", "test_b_every_field_has_a_form_field")
    assert done.victims == {victim: [polluter]}, done.output


def test_quiet_when_nothing_walks_the_hierarchy(scenario: Scenario) -> None:
    scenario.write("test_fields.py", NOTHING_WALKS)
    done = scenario.run(checks="subclasses")
    assert done.returncode == 0 and only(done, "subclasses") == [], done.output


def test_a_local_subclass_of_a_walked_first_party_class_is_caught(scenario: Scenario) -> None:
    scenario.write("test_plugins.py", PLUGINS.format(walked="Plugin", expected=["CSVExport"]))
    done = scenario.run(checks="subclasses")
    assert done.returncode == 1, done.output  # the registry lists the fake plugin, as it would without the toolkit
    [finding] = done.findings
    assert finding["test"] == scenario.test_id("test_plugins", "PluginTests", "test_a_fake_plugin")
    assert finding["summary"].startswith(
        "class PluginTests.test_a_fake_plugin.<locals>.FakePlugin still listed by Plugin.__subclasses__() (walked at "
        "scenario/test_plugins.py:"
    ), finding["summary"]
    victim = scenario.test_id("test_plugins", "PluginTests", "test_b_the_registered_plugins")
    assert list(done.victims) == [victim], done.output


def test_quiet_on_a_local_class_outside_the_walked_hierarchy(scenario: Scenario) -> None:
    # The project walks CSVExport's hierarchy only: neither the fake plugin (a Plugin) nor the form is in it.
    scenario.write("test_plugins.py", PLUGINS.format(walked="CSVExport", expected=[]))
    done = scenario.run(checks="subclasses")
    assert done.returncode == 0 and done.findings == [], done.output


def test_find_polluter_names_the_test_that_defined_the_class(scenario: Scenario) -> None:
    scenario.write("test_fields.py", FIELD_WALK)
    scenario.run(checks="all")
    victim = scenario.test_id("test_fields", "FieldTests", "test_b_every_field_has_a_form_field")
    command = [sys.executable, "-m", "django_isolation.cli", "find-polluter", "--report", str(scenario.report_path)]
    command += ["--output", str(scenario.root / "polluter"), "--json", victim]
    done = run(command, scenario.root, DJANGO_SETTINGS_MODULE="testproject.settings")
    assert done.returncode == 0, done.output
    result = json.loads(next(line for line in done.output.splitlines() if line.startswith('{"victim"')))
    assert result["polluters"] == [scenario.test_id("test_fields", "FieldTests", "test_a_custom_foreign_key")]
    assert result["runs"] == 2 and "by the report's suspect" in done.output, done.output
