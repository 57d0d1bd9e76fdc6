"""The module_attributes check: the Wilkes story (a fixture that replaces a class's method and never restores it),
module globals and module-level registries a test left changed; quiet on monkeypatch, mock.patch and state a module
sets up on first use."""

from __future__ import annotations

import sys
import textwrap
from typing import Any

from runs import Run, Scenario

CHECKS = "module_identity,module_attributes"

SENSORS = """
    import sys


    class PythonVersion:
        def value(self):
            return sys.version_info

        @classmethod
        def format(cls, value):
            if value[2] == 0 and value[3] == "alpha":
                return "{0}.{1}.{2}a{4}".format(*value)
            return "{0}.{1}".format(*value)


    def sensor():
        return PythonVersion()


    HANDLERS = []
    REGISTRY = {}
    _seen = []
    __isolation_state__ = ("_seen",)
    _config = None
    _lookup_cache = {}


    def config():
        global _config
        if _config is None:
            _config = {"loaded": True}  # set up once, on first use
        _seen.append("config")
        return _config


    def lookup(key):
        return _lookup_cache.setdefault(key, key.upper())
"""

# Matthew Wilkes, "Finding test isolation issues with pytest", listing 1: the fixture never restores the method.
WILKES_PYTEST = """
    import sys

    import pytest

    from scenario.sensors import PythonVersion


    @pytest.fixture
    def alpha_sensor():
        def returns_alpha(self):  # @fake
            return (3, 9, 0, "alpha", 1)
        PythonVersion.value = returns_alpha
        return PythonVersion()


    def test_alpha_specialcase(alpha_sensor):
        assert PythonVersion.format(alpha_sensor.value()) == "3.9.0a1"


    def test_value_is_right():
        assert PythonVersion().value() == sys.version_info
"""

WILKES_UNITTEST = """
    import sys
    from unittest import TestCase

    from scenario.sensors import PythonVersion


    class AlphaTests(TestCase):
        def setUp(self):
            def returns_alpha(self):  # @fake
                return (3, 9, 0, "alpha", 1)
            PythonVersion.value = returns_alpha

        def test_alpha_specialcase(self):
            self.assertEqual(PythonVersion.format(PythonVersion().value()), "3.9.0a1")


    class ValueTests(TestCase):
        def test_value_is_right(self):
            self.assertEqual(PythonVersion().value(), sys.version_info)
"""


def line_of(source: str, marker: str) -> int:
    lines = textwrap.dedent(source).splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.rstrip().endswith(f"# @{marker}"))


def ids(scenario: Scenario, module: str, cls: str, test: str) -> str:
    return scenario.test_id(module, test) if scenario.runner == "pytest" else scenario.test_id(module, cls, test)


def by_target(run: Run) -> dict[str, dict[str, Any]]:
    return {f["details"]["target"]: f for f in run.findings}


def test_wilkes_unrestored_method_is_caught_with_the_fake(scenario: Scenario) -> None:
    source = WILKES_PYTEST if scenario.runner == "pytest" else WILKES_UNITTEST
    scenario.write("sensors.py", SENSORS)
    scenario.write("test_sensors.py", source)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output  # the victim fails, as in the article
    [finding] = run.findings
    polluter = ids(scenario, "test_sensors", "AlphaTests", "test_alpha_specialcase")
    assert finding["test"] == polluter
    assert finding["check"] == "module_attributes"
    assert finding["summary"].startswith("scenario.sensors.PythonVersion.value replaced by ")
    fake = {
        "file": "scenario/test_sensors.py",
        "line": line_of(source, "fake"),
        "function": "returns_alpha",
    }
    assert finding["origin"] == [fake]
    assert finding["details"]["defined_at"] == f"scenario/test_sensors.py:{fake['line']} in returns_alpha"
    assert finding["details"]["before"].startswith("PythonVersion.value (defined at scenario/sensors.py:6)")
    assert finding["details"]["change"] == "replaced"
    victim = ids(scenario, "test_sensors", "ValueTests", "test_value_is_right")
    assert run.victims == {victim: [polluter]}


GLOBALS_AND_REGISTRIES = """
    from unittest import TestCase

    import scenario.sensors


    class LeakTests(TestCase):
        def test_replaces_function(self):
            scenario.sensors.sensor = lambda: None  # @assign

        def test_registers_handler(self):
            scenario.sensors.HANDLERS.append(print)
            scenario.sensors.REGISTRY["audit"] = print

        def test_deletes_global(self):
            del scenario.sensors.PythonVersion  # @delete
"""


def test_module_globals_and_registries_changed_in_place_are_caught(scenario: Scenario) -> None:
    scenario.write("sensors.py", SENSORS)
    scenario.write("test_leaks.py", GLOBALS_AND_REGISTRIES)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    found = by_target(run)
    assert set(found) == {
        "scenario.sensors.sensor",
        "scenario.sensors.HANDLERS",
        "scenario.sensors.REGISTRY",
        "scenario.sensors.PythonVersion",
    }, run.findings
    replaced = found["scenario.sensors.sensor"]
    assert replaced["test"] == scenario.test_id("test_leaks", "LeakTests", "test_replaces_function")
    assert replaced["origin"][0]["line"] == line_of(GLOBALS_AND_REGISTRIES, "assign")
    assert replaced["details"]["defined_at"].startswith("scenario/test_leaks.py:")
    assert found["scenario.sensors.HANDLERS"]["summary"] == (
        "contents of scenario.sensors.HANDLERS changed in place: 0 item(s) -> 1 item(s)"
    )
    assert found["scenario.sensors.REGISTRY"]["summary"] == (
        "contents of scenario.sensors.REGISTRY changed in place: added keys 'audit'"
    )
    deleted = found["scenario.sensors.PythonVersion"]
    assert deleted["details"]["change"] == "deleted"
    assert deleted["origin"][0]["line"] == line_of(GLOBALS_AND_REGISTRIES, "delete")
    registers = scenario.test_id("test_leaks", "LeakTests", "test_registers_handler")
    assert found["scenario.sensors.REGISTRY"]["test"] == registers


CLEAN_UNITTEST = """
    from unittest import TestCase, mock

    from django.test import TestCase as DjangoTestCase

    import scenario.sensors
    from scenario.sensors import PythonVersion

    COUNTER = {"runs": 0}


    class PatchTests(TestCase):
        @mock.patch.object(PythonVersion, "value", lambda self: (3, 9, 0, "alpha", 1))
        def test_decorator(self):
            self.assertEqual(PythonVersion.format(PythonVersion().value()), "3.9.0a1")

        def test_context_manager(self):
            with mock.patch("scenario.sensors.sensor", lambda: None):
                self.assertIsNone(scenario.sensors.sensor())

        def test_cleanup(self):
            patcher = mock.patch.dict(scenario.sensors.REGISTRY, {"audit": print})
            patcher.start()
            self.addCleanup(patcher.stop)
            scenario.sensors.HANDLERS.append(print)
            self.addCleanup(scenario.sensors.HANDLERS.remove, print)

        def test_state_set_up_on_first_use(self):
            self.assertEqual(scenario.sensors.config(), {"loaded": True})
            self.assertEqual(scenario.sensors.lookup("a"), "A")


    class DataTests(DjangoTestCase):
        @classmethod
        def setUpTestData(cls):
            cls.version = PythonVersion()

        def test_data(self):
            self.assertIsInstance(self.version, PythonVersion)
"""

CLEAN_PYTEST = """
    import scenario.sensors
    from scenario.sensors import PythonVersion


    def test_monkeypatch(monkeypatch):
        monkeypatch.setattr(PythonVersion, "value", lambda self: (3, 9, 0, "alpha", 1))
        monkeypatch.setattr(scenario.sensors, "sensor", lambda: None)
        monkeypatch.setitem(scenario.sensors.REGISTRY, "audit", print)
        monkeypatch.delattr(scenario.sensors, "HANDLERS")
        assert PythonVersion.format(PythonVersion().value()) == "3.9.0a1"
"""


def test_patching_that_undoes_itself_and_first_use_state_are_quiet(scenario: Scenario) -> None:
    scenario.write("sensors.py", SENSORS)
    scenario.write("test_clean.py", CLEAN_UNITTEST)
    if scenario.runner == "pytest":
        scenario.write("test_monkeypatch.py", CLEAN_PYTEST)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == (6 if scenario.runner == "pytest" else 5)  # type: ignore[index]
    assert run.findings == []


OWN_STATE = """
    import warnings

    from django.utils.functional import SimpleLazyObject


    def _evaluate():
        warnings.warn("LAZY evaluated", DeprecationWarning)
        return 1


    LAZY = SimpleLazyObject(_evaluate)


    class Field:
        _creation_counter = 0
        label = None

        def __init__(self):
            self.order = Field._creation_counter
            Field._creation_counter += 1


    class ViewMixin:
        @classmethod
        def as_view(cls, **initkwargs):
            cls.name = None
            cls.suffix = initkwargs.get("suffix")
            return lambda request: None

        def describe(self):
            return "view"
"""

OWN_STATE_TESTS = """
    from unittest import TestCase

    from django.utils.functional import empty

    from scenario import own_state


    class NoteView(own_state.ViewMixin):
        pass


    class OwnStateTests(TestCase):
        def test_fields_count_themselves(self):
            own_state.Field(), own_state.Field()

        def test_view_is_set_up_on_first_use(self):
            NoteView.as_view(suffix="List")

        def test_method_put_back_to_the_inherited_one(self):
            NoteView.describe = lambda self: "patched"
            NoteView.describe = own_state.ViewMixin.describe

        def test_lazy_global_was_never_evaluated(self):
            self.assertIs(own_state.LAZY._wrapped, empty)
"""

SETUP_CLASS = """
    class TestWithSetupClass:
        def setup_class(cls):
            cls.fields = ["a"]

        def test_reads_it(self):
            assert self.fields == ["a"]
"""


def test_a_classs_own_state_first_use_set_up_and_lazy_globals_are_quiet(scenario: Scenario) -> None:
    """Counters a class keeps on itself, attributes its classmethods set on first use (DRF's as_view()), pytest's
    setup_class, an attribute put back to the inherited value; a lazy global is never evaluated (-W error)."""
    scenario.write("own_state.py", OWN_STATE)
    scenario.write("test_own_state.py", OWN_STATE_TESTS)
    if scenario.runner == "pytest":
        scenario.write("test_setup_class.py", SETUP_CLASS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == (5 if scenario.runner == "pytest" else 4)  # type: ignore[index]
    assert run.findings == []
    assert run.report["check_errors"] == []  # type: ignore[index]


OWN_STATE_LEAKS = """
    from unittest import TestCase

    from scenario import own_state


    class NoteView(own_state.ViewMixin):
        pass


    class LeakTests(TestCase):
        def test_replaces_a_method_the_class_never_assigns(self):
            own_state.ViewMixin.describe = lambda self: "fake"  # @fake

        def test_sets_an_attribute_no_method_sets(self):
            NoteView.renderer = "json"

        def test_counts_fields_and_patches_the_class(self):
            own_state.Field()  # the class's own counter moves with the leak
            own_state.Field.widget = "fake"

        def test_counts_fields_and_deletes_an_attribute_that_is_none(self):
            own_state.Field()
            del own_state.Field.label
"""


def test_attributes_a_test_writes_on_a_class_with_own_state_are_caught(scenario: Scenario) -> None:
    scenario.write("own_state.py", OWN_STATE)
    scenario.write("test_leaks.py", OWN_STATE_LEAKS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    found = by_target(run)
    assert set(found) == {
        "scenario.own_state.ViewMixin.describe",
        "scenario.test_leaks.NoteView.renderer",
        "scenario.own_state.Field.widget",
        "scenario.own_state.Field.label",
    }, run.findings
    deleted = found["scenario.own_state.Field.label"]
    assert deleted["test"] == scenario.test_id(
        "test_leaks", "LeakTests", "test_counts_fields_and_deletes_an_attribute_that_is_none"
    )
    fake = found["scenario.own_state.ViewMixin.describe"]
    assert fake["test"] == scenario.test_id("test_leaks", "LeakTests", "test_replaces_a_method_the_class_never_assigns")
    assert fake["details"]["defined_at"] == f"scenario/test_leaks.py:{line_of(OWN_STATE_LEAKS, 'fake')} in <lambda>"


API_SETTINGS = """
    class Settings:
        HTML_SELECT_CUTOFF = 1000


    api_settings = Settings()
    FLAGS = {"beta": False}
"""

RELATIONS = """
    from scenario.api_settings import api_settings


    class RelatedField:
        def __init__(self, items):
            self.cutoff = api_settings.HTML_SELECT_CUTOFF
            self.items = items

        def options(self):
            return list(self.items)[: self.cutoff]
"""

# django-rest-framework's tests/test_relations.py: a MonkeyPatch made in setUp and never undone.
CUTOFF_TESTS = """
    from unittest import TestCase

    from _pytest.monkeypatch import MonkeyPatch

    from scenario import api_settings, relations


    class Cutoff:
        HTML_SELECT_CUTOFF = 2


    class CutoffTests(TestCase):
        def setUp(self):
            self.monkeypatch = MonkeyPatch()

        def test_a_settings_cutoff(self):
            self.monkeypatch.setattr(relations, "api_settings", Cutoff())
            self.assertEqual(len(relations.RelatedField(range(10)).options()), 2)

        def test_b_turns_a_flag_on(self):
            api_settings.FLAGS["gamma"] = True

        def test_c_no_settings(self):
            self.assertEqual(len(relations.RelatedField(range(2000)).options()), 1000)

        def test_d_fails_on_its_own(self):
            self.assertEqual(sum([1, 1]), 3)
"""


def test_a_victim_is_linked_to_the_leak_whose_code_it_ran_and_to_nothing_else(scenario: Scenario) -> None:
    """The victim ran RelatedField.__init__, which reads the replaced api_settings (seen through sys.monitoring,
    Python 3.12+); the flag left on is live too but unrelated; a test failing on its own is explained by nothing."""
    scenario.write("api_settings.py", API_SETTINGS)
    scenario.write("relations.py", RELATIONS)
    scenario.write("test_cutoff.py", CUTOFF_TESTS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output
    polluter = scenario.test_id("test_cutoff", "CutoffTests", "test_a_settings_cutoff")
    assert {f["test"]: f["details"]["target"] for f in run.findings} == {
        polluter: "scenario.relations.api_settings",
        scenario.test_id("test_cutoff", "CutoffTests", "test_b_turns_a_flag_on"): "scenario.api_settings.FLAGS",
    }
    victim = scenario.test_id("test_cutoff", "CutoffTests", "test_c_no_settings")
    alone = scenario.test_id("test_cutoff", "CutoffTests", "test_d_fails_on_its_own")
    if sys.version_info < (3, 12):  # no sys.monitoring: only a failure that names the state is linked
        assert run.victims == {}
        assert run.report["unexplained"] == [victim, alone]  # type: ignore[index]
        return
    assert run.victims == {victim: [polluter]}
    [link] = run.report["victims"][0]["links"]  # type: ignore[index]
    assert link["evidence"] == (
        "it ran scenario/relations.py:6 in RelatedField.__init__, which reads api_settings"
    )
    assert run.report["unexplained"] == [alone]  # type: ignore[index]
    assert f"FAILED {alone}: no watched state explains this failure" in run.output


def test_a_hand_made_monkeypatch_never_undone_is_told_to_add_its_undo_as_a_cleanup(scenario: Scenario) -> None:
    scenario.write("api_settings.py", API_SETTINGS)
    scenario.write("relations.py", RELATIONS)
    scenario.write("test_cutoff.py", CUTOFF_TESTS)
    run = scenario.run(checks=CHECKS)
    [patched] = [f for f in run.findings if f["details"]["target"] == "scenario.relations.api_settings"]
    assert patched["advice"].startswith("a MonkeyPatch() made by hand (in setUp, a helper) is never undone: ")
    assert "self.addCleanup(mp.undo)" in patched["advice"]
    assert patched["origin"][0]["function"] == "test_a_settings_cutoff"


HELPERS = """
    from scenario.sensors import PythonVersion


    def pretend_alpha():
        PythonVersion.value = lambda self: (3, 9, 0, "alpha", 1)
"""
THROUGH_A_HELPER = """
    from unittest import TestCase

    from scenario.helpers import pretend_alpha


    class HelperTests(TestCase):
        def test_a_clean(self):
            pass

        def test_b_through_the_helper(self):
            pretend_alpha()

        def test_c_clean(self):
            pass
"""
OUT_OF_REACH = """
    import importlib
    from unittest import TestCase


    class FarTests(TestCase):
        def test_a_clean(self):
            pass

        def test_b_by_name(self):
            importlib.import_module("scenario.sensors").PythonVersion.format = classmethod(lambda cls, value: "?")

        def test_c_clean(self):
            pass
"""


def test_a_class_the_tests_module_reaches_is_compared_at_each_test_and_any_other_where_the_module_ends(
    scenario: Scenario,
) -> None:
    # Between sweeps a check point compares the classes of the test's module and of the modules it reaches two
    # imports deep (the helper's module, the sensors it imports); a class out of that reach is compared where
    # the module ends, and its change is the module's.
    scenario.write("sensors.py", SENSORS)
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_a_helper.py", THROUGH_A_HELPER)
    scenario.write("test_b_far.py", OUT_OF_REACH)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    found = {f["details"]["target"]: f["test"] for f in run.findings}
    far_module = "scenario.test_b_far" if scenario.runner == "django" else "scenario/test_b_far.py"
    assert found == {
        "scenario.sensors.PythonVersion.value": scenario.test_id("test_a_helper", "HelperTests", "test_b_through_the_helper"),
        "scenario.sensors.PythonVersion.format": far_module,
    }


RAISING_EQUALITY = """
    class Reading:
        def __eq__(self, other):
            raise ValueError("an array's truth value is ambiguous")

        __hash__ = object.__hash__


    READINGS = {"latest": Reading()}
"""
REPLACES_A_READING = """
    from unittest import TestCase

    from scenario import readings


    class ReadingTests(TestCase):
        def test_replaces_the_latest(self):
            readings.READINGS["latest"] = readings.Reading()
"""


def test_a_registry_value_replaced_by_one_whose_equality_raises_is_found_where_the_module_ends(
    scenario: Scenario,
) -> None:
    # The same length: only a module's end compares the contents, and Reading.__eq__ raises there.
    scenario.write("readings.py", RAISING_EQUALITY)
    scenario.write("test_readings.py", REPLACES_A_READING)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert run.report is not None and run.report["check_errors"] == []
    [finding] = run.findings
    assert finding["summary"] == "contents of scenario.readings.READINGS changed in place: replaced values of 'latest'"
    # Seen where the module ends, so owned by the module (a test's check points compare lengths only).
    assert finding["test"] == ("scenario.test_readings" if scenario.runner == "django" else "scenario/test_readings.py")


PRICING = """
    class Pricing:
        currency = "EUR"
        rounding = 2
        tax = 0.2
"""

# Under pytest a django SimpleTestCase class runs inside pytest-django's class-scoped _django_setup_unittest; the
# check points around it skip module_attributes (first_party_only): who wrote what must not move with it.
PRICING_TESTS = """
    from django.test import SimpleTestCase

    from scenario.pricing import Pricing


    class PricingTests(SimpleTestCase):
        @classmethod
        def setUpClass(cls):
            super().setUpClass()
            Pricing.currency = "USD"
            cls.saved_tax = Pricing.tax
            Pricing.tax = 0.0

        @classmethod
        def tearDownClass(cls):
            Pricing.tax = cls.saved_tax
            super().tearDownClass()

        def test_a_reads(self):
            self.assertEqual(Pricing.currency, "USD")

        def test_b_rounds_less(self):
            Pricing.rounding = 0
"""


def test_class_setup_and_last_test_writes_keep_their_owners_inside_a_django_test_class(scenario: Scenario) -> None:
    scenario.write("pricing.py", PRICING)
    scenario.write("test_pricing.py", PRICING_TESTS)
    run = scenario.run(checks="module_attributes")
    assert run.returncode == 0, run.output
    found = by_target(run)
    assert set(found) == {"scenario.pricing.Pricing.currency", "scenario.pricing.Pricing.rounding"}, run.findings
    currency = found["scenario.pricing.Pricing.currency"]
    assert currency["test"] == scenario.test_id("test_pricing", "PricingTests")
    assert currency["details"]["fixture"] == "setUpClass"
    rounding = found["scenario.pricing.Pricing.rounding"]
    assert rounding["test"] == scenario.test_id("test_pricing", "PricingTests", "test_b_rounds_less")


ROUTES = """
    ROUTES = ["home", "about"]
    NAMES = {"home": "/", "about": "/about/"}
"""
REORDERS_AND_REPLACES = """
    from unittest import TestCase

    from scenario import routes


    class RouteTests(TestCase):
        def test_a_puts_the_names_back_in_another_order(self):
            home = routes.NAMES.pop("home")
            routes.NAMES["home"] = home

        def test_b_replaces_a_route(self):
            routes.ROUTES[1] = "contact"
"""


def test_a_list_item_replaced_at_the_same_length_is_found_and_a_reordered_dict_is_not(scenario: Scenario) -> None:
    """Where the module ends, same-length contents are compared: a list item replaced is a leak; a dict holding the
    same keys and values in another order is the same registry."""
    scenario.write("routes.py", ROUTES)
    scenario.write("test_routes.py", REORDERS_AND_REPLACES)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["summary"] == "contents of scenario.routes.ROUTES changed in place: 2 item(s) -> 2 item(s)"
