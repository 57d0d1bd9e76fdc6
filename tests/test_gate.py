"""The pre-merge gate through both fronts: green on a clean migration suite, red with the right cause on each polluted one."""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from runs import REPO, SETTINGS, Run, Scenario, run

CLEAN_MIGRATION_TESTS = """
    import pytest
    from django_test_migrations.contrib.unittest_case import MigratorTestCase


    class BarcodeMigrationTests(MigratorTestCase):
        migrate_from = ("shop", "0001_initial")
        migrate_to = ("shop", "0002_product_barcode")

        def prepare(self):
            Product = self.old_state.apps.get_model("shop", "Product")
            Product.objects.create(name="p", sku="s", price=1)

        def test_existing_products_get_an_empty_barcode(self):
            Product = self.new_state.apps.get_model("shop", "Product")
            self.assertEqual(Product.objects.get().barcode, "")


    def test_barcode_column_is_added(migrator):  # pytest only: django-test-migrations' fixture
        migrator.apply_initial_migration(("shop", "0001_initial"))
        new_state = migrator.apply_tested_migration(("shop", "0002_product_barcode"))
        Product = new_state.apps.get_model("shop", "Product")
        assert Product.objects.create(name="p", sku="t", price=1).barcode == ""
"""

UNSELECTED_POLLUTER = """
    from django.db import models
    from django.test import TestCase


    class NotAMigrationTest(TestCase):  # not tagged migration_test: the gate does not run it
        def test_inline_model(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"
"""

POLLUTED = {
    "drift": (
        """
        from django.db import models
        from django.test import SimpleTestCase, tag


        @tag("migration_test")
        class RouterTests(SimpleTestCase):
            def test_defines_a_model_inline(self):
                class AnalyticsModel(models.Model):
                    class Meta:
                        app_label = "analytics"
        """,
        ["leak [apps_registry] left by {id}: model analytics.AnalyticsModel", "leak [migration_drift] left by {id}"],
        ("RouterTests", "test_defines_a_model_inline"),
    ),
    "schema": (
        """
        from django_test_migrations.contrib.unittest_case import MigratorTestCase


        class BarcodeRemovalTests(MigratorTestCase):
            migrate_from = ("shop", "0002_product_barcode")
            migrate_to = ("shop", "0001_initial")

            def test_barcode_column_is_dropped(self):
                Product = self.new_state.apps.get_model("shop", "Product")
                self.assertNotIn("barcode", [field.name for field in Product._meta.get_fields()])

            def tearDown(self):
                pass  # forgets MigratorTestCase.tearDown, which migrates the database back
        """,
        ["leak [db_schema] left by {id}"],
        ("BarcodeRemovalTests", "test_barcode_column_is_dropped"),
    ),
    "rows": (
        """
        from django.test import TransactionTestCase, tag

        from testproject.shop.models import Product


        @tag("migration_test")
        class AvailableAppsTests(TransactionTestCase):
            available_apps = ["testproject.analytics"]  # the flush empties only analytics' tables

            def test_creates_a_product(self):
                Product.objects.create(name="left", sku="left", price=1)
        """,
        ["leak [db_rows] left by {id}: row left in shop_product"],
        ("AvailableAppsTests", "test_creates_a_product"),
    ),
    "order": (
        """
        from django.test import SimpleTestCase, tag

        SEEN = []


        @tag("migration_test")
        class BrittleTests(SimpleTestCase):
            def test_a_state_setter(self):
                SEEN.append("a")

            def test_b_brittle(self):
                self.assertEqual(SEEN, ["a"])
        """,
        ["order-dependent: {id} fails in reversed, passes in collected"],
        ("BrittleTests", "test_b_brittle"),
    ),
}


def gate(scenario: Scenario, *options: str, settings: str = SETTINGS) -> tuple[Run, dict[str, Any]]:
    """Run the gate of `scenario`'s runner on the scenario package; its output goes to ``gate/``."""
    output = scenario.root / "gate"
    if scenario.runner == "django":
        command = [sys.executable, str(REPO / "manage.py"), "isolation_gate", "scenario", "--output", str(output)]
        done = run([*command, *options], scenario.root, DJANGO_SETTINGS_MODULE=settings)
    else:
        command = [sys.executable, "-m", "django_isolation.cli", "gate", "--output", str(output), *options]
        done = run([*command, "--", f"--ds={settings}", "scenario"], scenario.root)
    path = output / "gate.json"
    assert path.exists(), done.output
    return done, json.loads(path.read_text())


def test_clean_migration_suite_passes_in_every_order(scenario: Scenario) -> None:
    scenario.write("test_migrations.py", CLEAN_MIGRATION_TESTS)
    scenario.write("test_other.py", UNSELECTED_POLLUTER)
    done, result = gate(scenario, "--shuffles", "1")
    assert done.returncode == 0, done.output
    assert result["status"] == "passed" and result["causes"] == []
    assert [order["label"].split(" ")[0] for order in result["orders"]] == ["collected", "reversed", "shuffled"]
    expected = 2 if scenario.runner == "pytest" else 1  # the migrator fixture test is pytest's alone
    assert [order["tests"] for order in result["orders"]] == [expected] * 3
    assert all(order["findings"] == 0 and order["returncode"] == 0 for order in result["orders"])
    assert result["makemigrations"] == {
        "before": {"operations": {}, "error": None},
        "after": {"operations": {}, "error": None},
    }
    assert "django-isolation gate passed" in done.output
    summary = (scenario.root / "gate" / "summary.md").read_text()
    assert summary.startswith("## django-isolation gate: passed")
    suites = ElementTree.parse(scenario.root / "gate" / "junit.xml").getroot()
    assert [suite.get("failures") for suite in suites] == ["0"] * 4


@pytest.mark.parametrize("variant", sorted(POLLUTED))
def test_each_polluted_variant_fails_the_gate_with_its_cause(scenario: Scenario, variant: str) -> None:
    source, expected, names = POLLUTED[variant]
    scenario.write("test_migrations.py", CLEAN_MIGRATION_TESTS)
    scenario.write("test_polluted.py", source)
    done, result = gate(scenario, "--shuffles", "0")
    test_id = scenario.test_id("test_polluted", *names)
    assert done.returncode == 1, done.output
    assert result["status"] == "failed"
    for start in expected:
        assert any(cause.startswith(start.format(id=test_id)) for cause in result["causes"]), result["causes"]
    assert "django-isolation gate FAILED" in done.output
    suites = ElementTree.parse(scenario.root / "gate" / "junit.xml").getroot()
    assert suites[-1].get("failures") != "0"


def test_the_printed_command_reproduces_an_order(scenario: Scenario) -> None:
    scenario.write("test_polluted.py", POLLUTED["order"][0])
    done, result = gate(scenario, "--shuffles", "0")
    reversed_run = next(order for order in result["orders"] if order["label"] == "reversed")
    printed = next(line for line in done.output.splitlines() if line.strip().startswith("reversed: "))
    command = shlex.split(printed.strip().removeprefix("reversed: "))
    assert command == reversed_run["command"]
    again = run(command, scenario.root, DJANGO_SETTINGS_MODULE=SETTINGS)
    assert again.returncode != 0, again.output
    victim = scenario.test_id("test_polluted", "BrittleTests", "test_b_brittle")
    report = json.loads(Path(reversed_run["report"]).read_text())
    assert report["failed"]["main"] == [victim]


def test_shuffle_seeds_are_reusable(scenario: Scenario) -> None:
    scenario.write("test_polluted.py", POLLUTED["order"][0])
    _, first = gate(scenario, "--shuffles", "0", "--seed", "11", "--seed", "12")
    _, second = gate(scenario, "--shuffles", "0", "--seed", "11", "--seed", "12")
    assert [o["label"] for o in first["orders"]] == ["collected", "reversed", "shuffled (seed 11)", "shuffled (seed 12)"]
    assert first["tests"] == second["tests"]


MISSING_MIGRATION_APP = {
    "gateapp/__init__.py": "",
    "gateapp/models.py": """
        from django.db import models


        class Thing(models.Model):
            name = models.CharField(max_length=20)  # not in any migration
    """,
    "gateapp/migrations/__init__.py": "",
    "gateapp/migrations/0001_initial.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = True
            operations = [
                migrations.CreateModel(
                    "Thing",
                    [("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))],
                ),
            ]
    """,
    "gate_settings.py": """
        from testproject.settings import *  # noqa: F403

        INSTALLED_APPS = [*INSTALLED_APPS, "gateapp"]  # noqa: F405
    """,
}


def test_missing_migrations_before_the_tests_fail_the_gate(scenario: Scenario) -> None:
    for name, source in MISSING_MIGRATION_APP.items():
        path = scenario.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    scenario.write("test_migrations.py", CLEAN_MIGRATION_TESTS)
    done, result = gate(scenario, "--shuffles", "0", settings="gate_settings")
    assert done.returncode == 1, done.output
    [cause] = result["causes"]
    assert cause.startswith("makemigrations --check before the tests: gateapp: ")
    assert cause.endswith("Add field name to thing")  # "+ Add ..." since Django 5.1, "- Add ..." before
    assert result["makemigrations"]["after"] == result["makemigrations"]["before"]
    assert all(order["findings"] == 0 for order in result["orders"])  # pending at the start: no drift finding


def test_no_selected_test_is_a_failure_of_its_own(scenario: Scenario) -> None:
    scenario.write("test_other.py", UNSELECTED_POLLUTER)
    done, result = gate(scenario, "--shuffles", "0")
    assert done.returncode == 5, done.output
    assert result["status"] == "failed"
    assert "no test was selected" in done.output
