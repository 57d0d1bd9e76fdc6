"""The migration_drift check through real runs: what ``makemigrations --check`` would newly find, per app,
attributed to the test that caused it (inline models, a model removed, a first import, fields changed in
place); quiet on isolate_apps, on models put back, on labels of no installed app, on migrations pending
when the run started and on a clean run. Runs on SQLite or PostgreSQL, as DATABASE_URL says."""

from __future__ import annotations

import textwrap
from typing import Any

import django
import pytest
from runs import REPO, Run, Scenario, skip_if_pytest_django_serializes_every_table

# How makemigrations prints an operation: a category symbol since Django 5.1, "-" before.
ADDED, ALTERED = ("+", "~") if django.VERSION >= (5, 1) else ("-", "-")


def line_of(source: str, marker: str) -> int:
    """The line of `source` (as Scenario.write dedents it) that ends with `# @<marker>`."""
    lines = textwrap.dedent(source).splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.rstrip().endswith(f"# @{marker}"))


def drift_findings(run: Run) -> list[dict[str, Any]]:
    """The check's findings, once sure it ran all along (a check that raised is switched off, and quiet)."""
    assert run.report is not None, run.output
    assert "migration_drift" in run.report["checks"]
    assert [e for e in run.report["check_errors"] if e["check"] == "migration_drift"] == []
    return [f for f in run.findings if f["check"] == "migration_drift"]


MIGRATIONS_CHECK = """
    from io import StringIO

    from django.core.management import call_command
    from django.test import TestCase


    class MigrationsCheckTests(TestCase):
        def test_no_missing_migrations(self):
            output = StringIO()
            try:
                call_command("makemigrations", "--check", "--dry-run", stdout=output, stderr=output)
            except SystemExit:
                self.fail("makemigrations --check found changes:\\n" + output.getvalue())
"""

INLINE_MODELS = """
    from django.db import models
    from django.test import TestCase

    from testproject.shop.models import Product


    class RouterTests(TestCase):
        def test_a_routes_nothing(self):
            self.assertEqual(Product.objects.count(), 0)

        def test_b_routes_inline_models(self):
            class Coupon(models.Model):  # @coupon
                product = models.ForeignKey(Product, on_delete=models.CASCADE)

                class Meta:
                    app_label = "shop"

            class Visit(models.Model):
                class Meta:
                    app_label = "analytics"

            self.assertEqual(Coupon._meta.db_table, "shop_coupon")
"""


def test_inline_models_with_installed_labels_are_drift_per_app(scenario: Scenario) -> None:
    scenario.write("test_a_routers.py", INLINE_MODELS)
    scenario.write("test_b_migrations.py", MIGRATIONS_CHECK)
    run = scenario.run()
    polluter = scenario.test_id("test_a_routers", "RouterTests", "test_b_routes_inline_models")
    shop, analytics = sorted(drift_findings(run), key=lambda f: f["details"]["app_label"], reverse=True)
    assert [shop["test"], analytics["test"]] == [polluter, polluter]
    assert shop["details"]["operations"] == [f"{ADDED} Create model Coupon"]
    assert analytics["details"]["operations"] == [f"{ADDED} Create model Visit"]
    assert shop["summary"] == f"makemigrations would now write for shop: {ADDED} Create model Coupon"
    # explained_by names the apps_registry finding of the same test
    assert shop["details"]["explained_by"] == ["shop.coupon"]
    assert analytics["details"]["explained_by"] == ["analytics.visit"]
    registry = {
        f"{f['details']['app_label']}.{f['details']['model_name']}": f["test"]
        for f in run.findings
        if f["check"] == "apps_registry"
    }
    assert registry == {"shop.coupon": polluter, "analytics.visit": polluter}
    line = line_of(INLINE_MODELS, "coupon")
    assert shop["origin"][0] == {
        "file": "scenario/test_a_routers.py",
        "line": line,
        "function": "test_b_routes_inline_models",
    }
    assert "isolate_apps('testproject.shop')" in shop["advice"]
    # the operations are the ones makemigrations itself prints in the victim, which is linked to the polluter
    assert run.returncode == 1, run.output
    assert f"    {ADDED} Create model Coupon\n" in run.output
    assert f"    {ADDED} Create model Visit\n" in run.output
    victim = scenario.test_id("test_b_migrations", "MigrationsCheckTests", "test_no_missing_migrations")
    assert run.victims == {victim: [polluter]}
    assert not [*REPO.glob("testproject/*/migrations/*_coupon*"), *REPO.glob("testproject/*/migrations/*_visit*")]


TWO_POLLUTERS = """
    from django.db import models
    from django.test import SimpleTestCase


    class CouponTests(SimpleTestCase):
        def test_a_coupon(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"

        def test_b_voucher(self):
            class Voucher(models.Model):  # @voucher
                class Meta:
                    app_label = "shop"
"""


def test_a_later_test_adding_to_an_apps_drift_is_its_polluter_too(scenario: Scenario) -> None:
    scenario.write("test_coupons.py", TWO_POLLUTERS)
    run = scenario.run()
    assert run.returncode == 0, run.output
    first, second = drift_findings(run)
    assert first["test"] == scenario.test_id("test_coupons", "CouponTests", "test_a_coupon")
    assert second["test"] == scenario.test_id("test_coupons", "CouponTests", "test_b_voucher")
    assert first["details"]["operations"] == [f"{ADDED} Create model Coupon"]
    # the app's drift as the second test left it, and the state it found
    assert second["details"]["operations"] == [f"{ADDED} Create model Coupon", f"{ADDED} Create model Voucher"]
    assert second["details"]["explained_by"] == ["shop.coupon", "shop.voucher"]
    assert second["details"]["before"] == f"{ADDED} Create model Coupon"
    assert second["details"]["replaces_state_of"] == first["test"]
    assert second["origin"][0]["line"] == line_of(TWO_POLLUTERS, "voucher")


REMOVED = """
    from django.apps import apps
    from django.test import SimpleTestCase


    class UnregisterTests(SimpleTestCase):
        def test_unregister(self):
            apps.all_models["analytics"].pop("pageview")
            apps.clear_cache()
"""


def test_a_model_removed_from_the_registry_is_drift(scenario: Scenario) -> None:
    scenario.write("test_unregister.py", REMOVED)
    run = scenario.run()
    [finding] = drift_findings(run)
    assert finding["test"] == scenario.test_id("test_unregister", "UnregisterTests", "test_unregister")
    assert finding["details"]["operations"] == ["- Delete model PageView"]
    assert finding["details"]["explained_by"] == ["analytics.pageview"]
    assert finding["origin"] == []


LATE_IMPORT = {
    "late_models.py": """
        from django.db import models


        class LateModel(models.Model):  # @late
            class Meta:
                app_label = "shop"
    """,
    "test_late.py": """
        import importlib

        from django.test import SimpleTestCase


        class LateImportTests(SimpleTestCase):
            def test_imports_a_models_module_late(self):
                importlib.import_module("scenario.late_models")
    """,
}


def test_a_model_of_an_installed_app_first_imported_by_a_test_is_drift(scenario: Scenario) -> None:
    for name, source in LATE_IMPORT.items():
        scenario.write(name, source)
    run = scenario.run()
    assert run.returncode == 0, run.output
    # apps_registry calls it a late import; makemigrations in this process now sees it all the same
    [finding] = run.findings
    assert finding["check"] == "migration_drift"
    assert finding["test"] == scenario.test_id("test_late", "LateImportTests", "test_imports_a_models_module_late")
    assert finding["details"]["operations"] == [f"{ADDED} Create model LateModel"]
    assert finding["details"]["explained_by"] == []
    assert finding["details"]["first_imported"] == ["shop.latemodel"]
    line = line_of(LATE_IMPORT["late_models.py"], "late")
    assert finding["origin"][0] == {"file": "scenario/late_models.py", "line": line, "function": "<module>"}
    assert "first imported" in finding["advice"]


ISOLATED = """
    from django.db import models
    from django.test import SimpleTestCase
    from django.test.utils import isolate_apps

    from testproject.shop.models import Product


    class RouterTests(SimpleTestCase):
        @isolate_apps("testproject.shop", "testproject.analytics")
        def test_routes_inline_models(self):
            class Coupon(models.Model):
                product = models.ForeignKey(Product, on_delete=models.CASCADE)

                class Meta:
                    app_label = "shop"

            class Visit(models.Model):
                class Meta:
                    app_label = "analytics"

            self.assertEqual(Coupon._meta.db_table, "shop_coupon")

        def test_context_manager(self):
            with isolate_apps("testproject.shop"):
                class Voucher(models.Model):
                    class Meta:
                        app_label = "shop"
"""


def test_the_isolate_apps_equivalent_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_a_routers.py", ISOLATED)
    scenario.write("test_b_migrations.py", MIGRATIONS_CHECK)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 3  # type: ignore[index]
    assert drift_findings(run) == []
    assert run.findings == []


MOVES_WITHOUT_DRIFT = """
    from django.apps import apps
    from django.db import models
    from django.test import SimpleTestCase


    class RegistryTests(SimpleTestCase):
        def test_a_model_removed_again(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"

            del apps.all_models["shop"]["coupon"]
            apps.clear_cache()

        def test_b_label_of_no_installed_app(self):
            class Ticket(models.Model):
                class Meta:
                    app_label = "another_app"
"""


def test_registry_changes_that_makemigrations_ignores_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_a_registry.py", MOVES_WITHOUT_DRIFT)
    scenario.write("test_b_migrations.py", MIGRATIONS_CHECK)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 3  # type: ignore[index]
    assert drift_findings(run) == []
    [registry] = run.findings  # the check did look: the registry moved, and apps_registry reports another_app
    assert registry["details"]["app_label"] == "another_app"


IN_PLACE = """
    from django.db import models
    from django.test import SimpleTestCase

    from testproject.shop.models import Product


    class InPlaceTests(SimpleTestCase):
        def test_a_adds_a_field(self):
            models.CharField(max_length=20, default="").contribute_to_class(Product, "note")

        def test_b_reads(self):
            self.assertEqual(Product._meta.get_field("note").max_length, 20)
"""


def test_a_field_added_in_place_to_an_installed_model_is_drift(scenario: Scenario) -> None:
    scenario.write("test_in_place.py", IN_PLACE)
    run = scenario.run()
    assert run.returncode == 0, run.output
    [finding] = drift_findings(run)
    assert finding["test"] == scenario.test_id("test_in_place", "InPlaceTests", "test_a_adds_a_field")
    assert finding["details"] | {"before": None} == {
        "app_label": "shop",
        "operations": [f"{ADDED} Add field note to product"],
        "explained_by": [],
        "first_imported": [],
        "before": None,
        "after": f"{ADDED} Add field note to product",
        "scope": "test",
    }
    assert "changed in place" in finding["advice"]
    # apps_registry sees no model come or go; module_attributes sees the new class attribute `note`.
    assert [f["check"] for f in run.findings] == ["migration_drift", "module_attributes"]


ATTRIBUTE = """
    from django.test import SimpleTestCase

    from testproject.shop.models import Product


    class AttributeTests(SimpleTestCase):
        def test_a_widens_a_field(self):
            Product._meta.get_field("name").max_length = 200

        def test_b_reads(self):
            self.assertEqual(Product._meta.get_field("name").max_length, 200)
"""


FIRST_CLEAN = """
    from django.test import SimpleTestCase

    from testproject.shop.models import Product


    class CleanTests(SimpleTestCase):
        def test_reads(self):
            self.assertEqual(Product._meta.get_field("name").max_length, 100)
"""


@pytest.mark.parametrize("after_a_quiet_sweep", [False, True], ids=["alone", "after_a_quiet_sweep"])
def test_a_field_attribute_changed_in_place_is_found_where_the_module_ends(
    scenario: Scenario, after_a_quiet_sweep: bool
) -> None:
    if after_a_quiet_sweep:  # its module's end is a sweep that finds nothing moved, and walks no model
        scenario.write("test_a_clean.py", FIRST_CLEAN)
    scenario.write("test_attribute.py", ATTRIBUTE)
    run = scenario.run()
    assert run.returncode == 0, run.output
    [finding] = drift_findings(run)
    # Too costly to look at every field after each test: the module's end (a sweep) sees it.
    assert finding["test"] == scenario.test_id("test_attribute")
    assert finding["details"]["scope"] == "module"
    assert finding["details"]["operations"] == [f"{ALTERED} Alter field name on product"]


def test_two_modules_that_edit_no_model_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_a_clean.py", FIRST_CLEAN)
    scenario.write("test_b_clean.py", FIRST_CLEAN.replace("CleanTests", "OtherCleanTests"))
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert drift_findings(run) == []


PENDING_PROJECT = {
    "settings.py": """
        from testproject.settings import *  # noqa: F403

        INSTALLED_APPS = [*INSTALLED_APPS, "scenario.pending"]  # noqa: F405
    """,
    "pending/__init__.py": "",
    "pending/models.py": """
        from django.db import models


        class Widget(models.Model):
            name = models.CharField(max_length=20)
            size = models.IntegerField(default=0)  # not in any migration yet
    """,
    "pending/migrations/__init__.py": "",
    "pending/migrations/0001_initial.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel(
                    name="Widget",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=20)),
                    ],
                ),
            ]
    """,
    "test_a_shop.py": """
        from django.test import TestCase

        from testproject.shop.models import Product


        class ShopTests(TestCase):
            def test_products(self):
                Product.objects.create(name="Mug", sku="MUG", price="9.50")
                self.assertEqual(Product.objects.count(), 1)
    """,
}

PENDING_THEN = """
    from django.db import models
    from django.test import SimpleTestCase


    class RegistryTests(SimpleTestCase):
        def test_defines_a_model(self):
            class Gadget(models.Model):
                class Meta:
                    app_label = {label!r}
"""


def test_migrations_pending_when_the_run_started_are_no_finding(scenario: Scenario) -> None:
    skip_if_pytest_django_serializes_every_table(scenario)
    for name, source in PENDING_PROJECT.items():
        scenario.write(name, source)
    scenario.write("test_b_registry.py", PENDING_THEN.format(label="another_app"))  # makes the check compute drift
    run = scenario.run(settings="scenario.settings")
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 2  # type: ignore[index]
    assert drift_findings(run) == []
    assert [f["check"] for f in run.findings] == ["apps_registry"]


def test_drift_in_an_app_with_pending_migrations_lists_only_the_new_operations(scenario: Scenario) -> None:
    skip_if_pytest_django_serializes_every_table(scenario)
    for name, source in PENDING_PROJECT.items():
        scenario.write(name, source)
    scenario.write("test_b_registry.py", PENDING_THEN.format(label="pending"))
    run = scenario.run(settings="scenario.settings")
    assert run.returncode == 0, run.output
    [finding] = drift_findings(run)
    assert finding["test"] == scenario.test_id("test_b_registry", "RegistryTests", "test_defines_a_model")
    assert finding["details"]["operations"] == [f"{ADDED} Create model Gadget"]
    assert finding["details"]["explained_by"] == ["pending.gadget"]
    assert finding["details"]["before"] == f"{ADDED} Add field size to widget"
    assert set(finding["details"]["after"].split("; ")) == {
        f"{ADDED} Add field size to widget",
        f"{ADDED} Create model Gadget",
    }


CLEAN = """
    from django.test import TestCase

    from testproject.analytics.models import PageView
    from testproject.shop.models import Order, Product


    class ShopTests(TestCase):
        @classmethod
        def setUpTestData(cls):
            cls.product = Product.objects.create(name="Mug", sku="MUG", price="9.50")

        def test_order(self):
            Order.objects.create(product=self.product, quantity=2)
            self.assertEqual(Order.objects.count(), 1)

        def test_page_view(self):
            PageView.objects.create(path="/")
            self.assertEqual(PageView.objects.count(), 1)
"""


def test_a_clean_run_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_a_shop.py", CLEAN)
    scenario.write("test_b_migrations.py", MIGRATIONS_CHECK)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 3  # type: ignore[index]
    assert drift_findings(run) == []
    assert run.findings == []
    assert run.report["check_errors"] == []  # type: ignore[index]


STRAY_MODEL = """
    from django.db import models
    from django.test import SimpleTestCase


    class StrayTests(SimpleTestCase):
        def test_defines_a_model_of_an_app_that_is_not_installed(self):
            class Stray(models.Model):
                class Meta:
                    app_label = "another_app"
"""


def test_a_model_leaked_into_a_label_that_is_not_installed_is_no_suspect_for_a_migrations_failure(
    scenario: Scenario,
) -> None:
    """makemigrations resolves the installed apps' models only: the stray model cannot be what broke it."""
    scenario.write("test_a_routers.py", INLINE_MODELS)
    scenario.write("test_a_stray.py", STRAY_MODEL)
    scenario.write("test_b_migrations.py", MIGRATIONS_CHECK)
    run = scenario.run()
    assert run.returncode == 1, run.output
    stray = scenario.test_id("test_a_stray", "StrayTests", "test_defines_a_model_of_an_app_that_is_not_installed")
    assert stray in run.polluters  # a leak all the same
    victim = scenario.test_id("test_b_migrations", "MigrationsCheckTests", "test_no_missing_migrations")
    assert run.victims == {victim: [scenario.test_id("test_a_routers", "RouterTests", "test_b_routes_inline_models")]}
    [link, *_] = run.report["victims"][0]["links"]  # type: ignore[index]
    assert link["evidence"] == "the failure's message names Coupon"


COUNTS_SHOP_MODELS = """
    from django.apps import apps
    from django.test import SimpleTestCase


    class ShopModelTests(SimpleTestCase):
        def test_shop_has_its_two_models(self):
            self.assertEqual(len(list(apps.get_app_config("shop").get_models())), 2)
"""


def test_a_victim_that_resolved_the_leaked_apps_models_is_linked_without_naming_them(scenario: Scenario) -> None:
    scenario.write("test_a_routers.py", INLINE_MODELS)
    scenario.write("test_b_counts.py", COUNTS_SHOP_MODELS)
    run = scenario.run(checks="apps_registry,migration_drift")
    assert run.returncode == 1, run.output
    victim = scenario.test_id("test_b_counts", "ShopModelTests", "test_shop_has_its_two_models")
    assert run.victims == {victim: [scenario.test_id("test_a_routers", "RouterTests", "test_b_routes_inline_models")]}
    links = run.report["victims"][0]["links"]  # type: ignore[index]
    assert {link["leak"].split(":")[0] for link in links} == {"apps_registry", "migration_drift"}
    assert all("shop" in link["leak"] for link in links)  # analytics' leaks: not its app
    assert {link["evidence"] for link in links} == {
        "it resolved the models of app 'shop' (AppConfig.get_models(): migrate, a Migrator)"
    }


NO_MIGRATIONS_SETTINGS = """
    from testproject.settings import *  # noqa: F403

    MIGRATION_MODULES = {label: None for label in ("auth", "contenttypes", "shop", "analytics")}  # --no-migrations
"""


def test_models_leaked_while_every_apps_migrations_are_disabled_are_no_drift(scenario: Scenario) -> None:
    # pytest-django's --no-migrations disables every app's migrations: makemigrations then writes nothing,
    # so the victim passes; the leaked models are still the registry's findings.
    scenario.write("settings.py", NO_MIGRATIONS_SETTINGS)
    scenario.write("test_a_routers.py", INLINE_MODELS)
    scenario.write("test_b_migrations.py", MIGRATIONS_CHECK)
    run = scenario.run(settings="scenario.settings")
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 3  # type: ignore[index]
    assert drift_findings(run) == []
    polluter = scenario.test_id("test_a_routers", "RouterTests", "test_b_routes_inline_models")
    registry = sorted(f["details"]["model_name"] for f in run.findings if f["check"] == "apps_registry")
    assert registry == ["coupon", "visit"]
    assert {f["test"] for f in run.findings} == {polluter}


ONE_APP_THEN_ANOTHER = """
    from django.db import models
    from django.test import SimpleTestCase


    class LeakTests(SimpleTestCase):
        def test_a_shop_model(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"

        def test_b_analytics_model(self):
            class Visit(models.Model):
                class Meta:
                    app_label = "analytics"
"""


def test_a_leak_into_another_app_leaves_the_first_apps_drift_and_polluter_as_they_were(scenario: Scenario) -> None:
    # The second leak moves the fingerprint again; shop's drift is unchanged, so it is still the first test's.
    scenario.write("test_leaks.py", ONE_APP_THEN_ANOTHER)
    run = scenario.run()
    assert run.returncode == 0, run.output
    found = {f["details"]["app_label"]: (f["test"], f["details"]["operations"]) for f in drift_findings(run)}
    assert found == {
        "shop": (scenario.test_id("test_leaks", "LeakTests", "test_a_shop_model"), [f"{ADDED} Create model Coupon"]),
        "analytics": (
            scenario.test_id("test_leaks", "LeakTests", "test_b_analytics_model"),
            [f"{ADDED} Create model Visit"],
        ),
    }
