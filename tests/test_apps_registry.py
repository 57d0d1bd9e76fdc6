"""The apps_registry check: what it catches, and the clean equivalents it stays quiet on."""

from __future__ import annotations

import re

import pytest
import pytest_django.plugin
from runs import Scenario, skip_if_pytest_django_serializes_every_table

CHECKS = "apps_registry,db_rows"  # the checks whose findings these tests count one by one

INLINE_MODEL_TEST = """
    from django.db import models
    from django.test import TestCase


    class InlineTests(TestCase):
        def test_inline(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = {label!r}
"""


@pytest.mark.parametrize(("label", "installed"), [("shop", True), ("another_app", False)])
def test_inline_model_is_caught_with_its_label_and_line(scenario: Scenario, label: str, installed: bool) -> None:
    scenario.write("test_inline.py", INLINE_MODEL_TEST.format(label=label))
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_inline", "InlineTests", "test_inline")
    assert finding["details"] | {"after": None} == {
        "change": "added",
        "app_label": label,
        "model": "Coupon",
        "model_name": "coupon",
        "installed_app": installed,
        "before": None,
        "after": None,
        "scope": "test",
    }
    assert finding["details"]["after"].endswith("InlineTests.test_inline.<locals>.Coupon")
    assert finding["origin"][0] == {"file": "scenario/test_inline.py", "line": 8, "function": "test_inline"}


FOLLOWED_ADVICE = """
    from django.db import models
    from django.test import TestCase
    from django.test.utils import isolate_apps


    class InlineTests(TestCase):
        @isolate_apps({app!r})
        def test_inline(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = {label!r}
"""


@pytest.mark.parametrize("label", ["shop", "another_app"])
def test_the_isolate_apps_advice_works_when_followed(scenario: Scenario, label: str) -> None:
    """isolate_apps takes installed apps (module paths): the advice names one, never a label that is not installed."""
    scenario.write("settings.py", "from testproject.settings import *  # noqa: F403\nINSTALLED_APPS += ['scenario']\n")
    scenario.write("test_inline.py", INLINE_MODEL_TEST.format(label=label))
    run = scenario.run(checks=CHECKS, settings="scenario.settings")
    [finding] = run.findings
    advice = finding["advice"]
    assert f"isolate_apps({label!r})" not in advice or label == "shop"
    app = re.search(r"isolate_apps\('([^']+)'\)", advice).group(1)  # type: ignore[union-attr]
    relabel = re.search(r"Meta.app_label = '([^']+)'", advice)
    assert (app, relabel.group(1) if relabel else label) == (
        ("testproject.shop", "shop") if label == "shop" else ("scenario", "scenario")
    )
    scenario.write("test_inline.py", FOLLOWED_ADVICE.format(app=app, label=relabel.group(1) if relabel else label))
    followed = scenario.run(checks=CHECKS, settings="scenario.settings")
    assert followed.returncode == 0, followed.output
    assert followed.findings == []


ISOLATED_FORMS = """
    from django.db import models
    from django.test import SimpleTestCase, TestCase
    from django.test.utils import isolate_apps


    class DecoratedMethodTests(TestCase):
        @isolate_apps("testproject.shop")
        def test_decorator(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"

        def test_context_manager(self):
            with isolate_apps("testproject.shop"):
                class Voucher(models.Model):
                    class Meta:
                        app_label = "shop"


    @isolate_apps("testproject.shop", attr_name="isolated")
    class DecoratedClassTests(SimpleTestCase):
        def test_class_decorator(self):
            class GiftCard(models.Model):
                class Meta:
                    app_label = "shop"

            self.assertIs(GiftCard._meta.apps, self.isolated)
"""


def test_every_form_of_isolate_apps_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_isolated.py", ISOLATED_FORMS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 3  # type: ignore[index]
    assert run.findings == []


@pytest.mark.skipif(
    not hasattr(pytest_django.plugin, "_django_isolate_apps"), reason="pytest-django 4.12 added django_isolate_apps"
)
def test_pytest_django_isolate_apps_marker_and_fixture_are_quiet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = Scenario(tmp_path, "pytest")
    scenario.write(
        "test_marker.py",
        """
        import pytest
        from django.db import models


        @pytest.mark.django_isolate_apps("testproject.shop")
        def test_marker():
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"


        @pytest.mark.django_isolate_apps("testproject.shop")
        def test_fixture(django_isolated_apps):
            class Voucher(models.Model):
                class Meta:
                    app_label = "shop"

            assert Voucher._meta.apps is django_isolated_apps
        """,
    )
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert "2 passed" in run.output
    assert run.findings == []


LATE_IMPORT = {
    "late_models.py": """
        from django.db import models


        class LateModel(models.Model):
            class Meta:
                app_label = "shop"
    """,
    "test_late.py": """
        import importlib

        from django.test import SimpleTestCase


        class LateImportTests(SimpleTestCase):
            def test_imports_a_models_module_late(self):
                module = importlib.import_module("scenario.late_models")
                self.assertEqual(module.LateModel._meta.app_label, "shop")
    """,
}


def test_first_import_of_a_models_module_during_a_test_is_quiet(scenario: Scenario) -> None:
    for name, source in LATE_IMPORT.items():
        scenario.write(name, source)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 1  # type: ignore[index]
    assert run.findings == []


TEST_APP = {
    "settings.py": """
        from testproject.settings import *  # noqa: F403

        INSTALLED_APPS = [*INSTALLED_APPS, "scenario.testapp"]  # noqa: F405
    """,
    "testapp/__init__.py": "",
    "testapp/models.py": """
        from django.db import models


        class Widget(models.Model):
            name = models.CharField(max_length=20)
    """,
    "test_module_level.py": """
        from django.db import models
        from django.test import TestCase

        from scenario.testapp.models import Widget


        class ModuleLevelModel(models.Model):
            class Meta:
                app_label = "shop"


        class WidgetTests(TestCase):
            def test_widgets(self):
                Widget.objects.create(name="a")
                self.assertEqual(Widget.objects.count(), 1)
    """,
}


def test_test_apps_and_module_level_test_models_before_the_session_are_quiet(scenario: Scenario) -> None:
    skip_if_pytest_django_serializes_every_table(scenario)
    for name, source in TEST_APP.items():
        scenario.write(name, source)
    run = scenario.run(checks=CHECKS, settings="scenario.settings")
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 1  # type: ignore[index]
    assert run.findings == []


UNREGISTER = """
    from django.apps import apps
    from django.test import SimpleTestCase


    class UnregisterTests(SimpleTestCase):
        def test_unregister(self):
            model = apps.all_models["analytics"].pop("pageview")
            apps.clear_cache()
            if {restore}:
                apps.all_models["analytics"]["pageview"] = model
                apps.clear_cache()
"""


def test_a_model_removed_from_the_registry_is_caught(scenario: Scenario) -> None:
    scenario.write("test_unregister.py", UNREGISTER.format(restore=False))
    run = scenario.run(checks=CHECKS)
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_unregister", "UnregisterTests", "test_unregister")
    assert finding["details"]["change"] == "removed"
    assert finding["details"]["before"] == "testproject.analytics.models.PageView"
    assert finding["details"]["after"] is None


def test_a_model_removed_and_restored_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_unregister.py", UNREGISTER.format(restore=True))
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert run.findings == []


def test_a_reloaded_models_module_is_caught_as_a_replacement(scenario: Scenario) -> None:
    skip_if_pytest_django_serializes_every_table(scenario)
    scenario.write("late_models.py", LATE_IMPORT["late_models.py"])
    scenario.write(
        "test_reload.py",
        """
        import importlib
        import warnings

        from django.test import SimpleTestCase

        from scenario import late_models


        class ReloadTests(SimpleTestCase):
            def test_reload(self):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # Django: "Reloading models is not advised"
                    importlib.reload(late_models)
        """,
    )
    run = scenario.run(checks=CHECKS)
    [finding] = run.findings
    assert finding["details"]["change"] == "replaced"
    assert finding["details"]["before"] == finding["details"]["after"] == "scenario.late_models.LateModel"
    assert finding["origin"][0] == {"file": "scenario/late_models.py", "line": 5, "function": "<module>"}
    assert "reload" in finding["advice"]


METACLASS = {
    "base.py": """
        from django.db import models


        class AuditedModelBase(models.base.ModelBase):
            def __new__(mcs, name, bases, attrs, **kwargs):
                attrs.setdefault("audited", True)
                return super().__new__(mcs, name, bases, attrs, **kwargs)
    """,
    "late_audited.py": """
        from django.db import models

        from scenario.base import AuditedModelBase


        class LateAudited(models.Model, metaclass=AuditedModelBase):
            class Meta:
                app_label = "shop"
    """,
    "test_metaclass.py": """
        import importlib

        from django.db import models
        from django.test import SimpleTestCase

        from scenario.base import AuditedModelBase


        class MetaclassTests(SimpleTestCase):
            def test_a_late_import(self):
                importlib.import_module("scenario.late_audited")

            def test_b_inline(self):
                class Audited(models.Model, metaclass=AuditedModelBase):
                    class Meta:
                        app_label = "shop"
    """,
}


def test_a_model_metaclass_of_the_project_is_seen_through(scenario: Scenario) -> None:
    for name, source in METACLASS.items():
        scenario.write(name, source)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings  # the late import through the metaclass is quiet
    assert finding["test"] == scenario.test_id("test_metaclass", "MetaclassTests", "test_b_inline")
    assert finding["origin"][0] == {"file": "scenario/test_metaclass.py", "line": 15, "function": "test_b_inline"}


def test_redefining_a_leaked_model_names_the_state_it_replaced(scenario: Scenario) -> None:
    scenario.write(
        "test_twice.py",
        """
        import warnings

        from django.db import models
        from django.test import SimpleTestCase


        def define():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # Django: "Model ... was already registered"

                class Coupon(models.Model):
                    class Meta:
                        app_label = "shop"


        class TwiceTests(SimpleTestCase):
            def test_a_first(self):
                define()

            def test_b_again(self):
                define()
        """,
    )
    run = scenario.run(checks=CHECKS)
    first, second = run.findings
    assert first["test"] == scenario.test_id("test_twice", "TwiceTests", "test_a_first")
    assert second["test"] == scenario.test_id("test_twice", "TwiceTests", "test_b_again")
    assert second["details"]["before"] == first["details"]["after"]
    assert second["details"]["replaces_state_of"] == first["test"]
    assert f"(the state before was left by {first['test']})" in run.output
