"""Attribution to wider scopes: state a class setup or fixture creates and removes is no leak;
state still there when that scope ended is, and it is reported against the scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import Scenario

from django_isolation.options import EXIT_LEAKS_ONLY

CHECKS = "apps_registry,db_rows"  # the checks whose findings these tests count one by one

HELPERS = """
    from django.apps import apps
    from django.db import models


    def define(name, label="shop"):
        return type(name, (models.Model,), {"__module__": __name__, "Meta": type("Meta", (), {"app_label": label})})


    def unregister(model):
        del apps.all_models[model._meta.app_label][model._meta.model_name]
        apps.clear_cache()
"""

CLASS_SETUP = """
    from django.test import SimpleTestCase

    from scenario.helpers import define, unregister


    class ClassSetupTests(SimpleTestCase):
        @classmethod
        def setUpClass(cls):
            super().setUpClass()
            cls.model = define("ClassModel")

        @classmethod
        def tearDownClass(cls):
            if {cleanup}:
                unregister(cls.model)
            super().tearDownClass()

        def test_one(self):
            self.assertEqual(self.model._meta.app_label, "shop")

        def test_two(self):
            self.assertEqual(self.model.__name__, "ClassModel")
"""


def test_class_setup_that_cleans_up_is_quiet(scenario: Scenario) -> None:
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_class.py", CLASS_SETUP.format(cleanup=True))
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 2  # type: ignore[index]
    assert run.findings == []


def test_class_setup_leak_is_reported_against_the_class(scenario: Scenario) -> None:
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_class.py", CLASS_SETUP.format(cleanup=False))
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_class", "ClassSetupTests")
    assert finding["details"]["scope"] == "class"
    assert finding["details"]["fixture"] == "setUpClass"
    assert finding["origin"][0]["file"] == "scenario/helpers.py"
    assert finding["origin"][1]["function"] == "setUpClass"


def test_leak_cleaned_by_a_later_test_names_the_cleaner(scenario: Scenario) -> None:
    scenario.write("helpers.py", HELPERS)
    scenario.write(
        "test_cleaner.py",
        """
        from django.apps import apps
        from django.test import SimpleTestCase

        from scenario.helpers import define, unregister


        class CleanerTests(SimpleTestCase):
            def test_a_polluter(self):
                define("Leaked")

            def test_b_cleaner(self):
                unregister(apps.get_model("shop", "leaked"))
        """,
    )
    run = scenario.run(checks=CHECKS)
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_cleaner", "CleanerTests", "test_a_polluter")
    assert finding["details"]["cleaned_by"] == scenario.test_id("test_cleaner", "CleanerTests", "test_b_cleaner")
    assert "cleaned later by" in run.output


def test_django_setup_module_leak_is_reported_against_the_module(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("helpers.py", HELPERS)
    scenario.write(
        "test_module.py",
        """
        from django.test import SimpleTestCase

        from scenario.helpers import define


        def setUpModule():
            define("ModuleModel")


        class ModuleTests(SimpleTestCase):
            def test_one(self):
                pass
        """,
    )
    run = scenario.run(checks=CHECKS)
    [finding] = run.findings
    assert finding["test"] == "scenario.test_module"
    assert finding["details"]["scope"] == "module"


FIXTURE_SCOPES = """
    import pytest

    from scenario.helpers import define, unregister


    @pytest.fixture(scope={scope!r})
    def registered_model():
        model = define("FixtureModel")
        yield model
        if {cleanup}:
            unregister(model)


    def test_one(registered_model):
        assert registered_model._meta.app_label == "shop"


    def test_two(registered_model):
        assert registered_model.__name__ == "FixtureModel"
"""


@pytest.mark.parametrize("scope", ["module", "session"])
def test_wide_fixture_that_cleans_up_is_quiet(tmp_path: Path, scope: str) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_fixture.py", FIXTURE_SCOPES.format(scope=scope, cleanup=True))
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert run.findings == []


@pytest.mark.parametrize("scope", ["module", "session"])
def test_wide_fixture_leak_is_reported_against_its_scope(tmp_path: Path, scope: str) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_fixture.py", FIXTURE_SCOPES.format(scope=scope, cleanup=False))
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == "scenario/test_fixture.py"  # the module; for a session fixture, its file
    assert finding["details"]["scope"] == scope
    assert finding["details"]["fixture"] == "registered_model"
    assert finding["details"]["fixture_origin"] == "scenario/test_fixture.py:7 in registered_model"
    assert finding["origin"][1]["function"] == "registered_model"
    assert "left by " + scope + " scope of registered_model" in run.output


NESTED_FIXTURES = """
    import pytest

    from scenario.helpers import define


    @pytest.fixture(scope="module")
    def inner():
        define("InnerModel")


    @pytest.fixture(scope="module")
    def outer(request):
        request.getfixturevalue("inner")  # set up inside outer's set-up


    @pytest.fixture
    def per_test():
        define("PerTestModel")


    def test_body(outer, per_test):
        define("BodyModel")
"""


def test_a_wide_fixture_set_up_inside_another_is_its_own_and_the_test_s_own_changes_are_the_test_s(
    tmp_path: Path,
) -> None:
    """The point that ends a wide fixture's set-up comes before the function fixtures and the test body: what
    they change is the test's, what the fixture set up inside the other changed is its own."""
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_nested.py", NESTED_FIXTURES)
    run = scenario.run(checks="apps_registry")
    assert run.returncode == 0, run.output
    owners = {f["summary"].split()[1]: (f["test"], f["details"].get("fixture")) for f in run.findings}
    assert owners == {
        "shop.InnerModel": ("scenario/test_nested.py", "inner"),
        "shop.PerTestModel": ("scenario/test_nested.py::test_body", None),
        "shop.BodyModel": ("scenario/test_nested.py::test_body", None),
    }


def test_wide_fixture_leak_fails_the_last_test_of_its_scope_in_fail_mode(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_fixture.py", FIXTURE_SCOPES.format(scope="module", cleanup=False))
    run = scenario.run("--isolation-fail", checks=CHECKS)
    assert run.returncode == EXIT_LEAKS_ONLY, run.output
    assert "ERROR at teardown of test_two" in run.output
    assert "2 passed, 1 error" in run.output


def test_fail_mode_is_not_swallowed_by_an_xfail_mark(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("helpers.py", HELPERS)
    scenario.write(
        "test_xfail.py",
        """
        import pytest

        from scenario.helpers import define


        @pytest.mark.xfail(reason="known to be broken")
        def test_leaks_and_is_expected_to_fail():
            define("XfailModel")
            assert False
        """,
    )
    run = scenario.run("--isolation-fail", checks=CHECKS)
    assert run.returncode == EXIT_LEAKS_ONLY, run.output
    assert "1 xfailed, 1 error" in run.output
    assert "IsolationLeak: [apps_registry] model shop.XfailModel added" in run.output
    assert "pytest_session.py" not in run.output  # the message alone, no traceback into the plugin


LATE_BASELINE = """
    import pytest
    from django.test import TestCase

    from scenario.helpers import define


    class FirstTests(TestCase):  # its _django_setup_unittest sets the test database up, before any of this code
        def test_first(self):
            pass


    @pytest.fixture(scope="module")
    def seeded(django_db_setup):
        define("SeededModel")


    def test_seeded(seeded):
        pass
"""


def test_framework_set_up_before_the_baselines_is_quiet_and_a_fixture_after_it_is_checked(tmp_path: Path) -> None:
    """The baselines are taken as the first of the project's code runs: the test database built inside the first
    unittest class is part of them (no finding), and a module fixture set up on top of it is still checked."""
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("helpers.py", HELPERS)
    scenario.write("test_late.py", LATE_BASELINE)
    run = scenario.run("--create-db", checks="all")
    assert run.returncode == 0, run.output
    assert sorted(f["check"] for f in run.findings) == ["apps_registry", "migration_drift"]  # the model, only
    for finding in run.findings:
        assert finding["test"] == "scenario/test_late.py"
        assert finding["details"]["fixture"] == "seeded"
    assert [frame["function"] for frame in run.findings[0]["origin"][:2]] == ["define", "seeded"]
