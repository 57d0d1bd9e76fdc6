"""The pre-merge gate through both fronts, on SQLite or PostgreSQL (as DATABASE_URL says): red on the founding
story (a unit test that leaks models into an installed app breaks the migration tests), naming the polluter and
the tests it breaks; green on the clean control; one test database build a gate."""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from runs import KEPT_DATABASE_SETTINGS, REPO, Run, Scenario, left_test_database, run

MIGRATION_TESTS = """
    import io

    from django.core.management import call_command
    from django.test import TransactionTestCase
    from django_test_migrations.contrib.unittest_case import MigratorTestCase
    from django_test_migrations.migrator import Migrator


    def assert_models_match_migrations():
        pending = io.StringIO()
        try:
            call_command("makemigrations", "--check", "--dry-run", stdout=pending)
        except SystemExit:
            raise AssertionError(f"models not in the migrations: {pending.getvalue()}") from None


    class BarcodeMigrationTests(MigratorTestCase):
        migrate_from = ("shop", "0001_initial")
        migrate_to = ("shop", "0002_product_barcode")

        def prepare(self):
            Product = self.old_state.apps.get_model("shop", "Product")
            Product.objects.create(name="p", sku="s", price=1)

        def test_existing_products_get_an_empty_barcode(self):
            Product = self.new_state.apps.get_model("shop", "Product")
            self.assertEqual(Product.objects.get().barcode, "")
            assert_models_match_migrations()


    class HandBuiltMigratorTests(TransactionTestCase):  # neither tagged nor marked: found by its Migrator
        def test_first_migration_applies_from_scratch(self):
            migrator = Migrator(database="default")
            migrator.apply_initial_migration(("shop", "0001_initial"))
            migrator.reset()
            assert_models_match_migrations()


    def test_barcode_column_is_added(migrator):  # pytest only: django-test-migrations' fixture
        migrator.apply_initial_migration(("shop", "0001_initial"))
        new_state = migrator.apply_tested_migration(("shop", "0002_product_barcode"))
        Product = new_state.apps.get_model("shop", "Product")
        assert Product.objects.create(name="p", sku="t", price=1).barcode == ""
        assert_models_match_migrations()
"""

UNIT_TESTS = """
    from django.test import SimpleTestCase


    class PricingTests(SimpleTestCase):
        def test_rounds_half_up(self):
            self.assertEqual(round(2.675, 1), 2.7)
"""

ROUTER_POLLUTER = """
    from django.db import models
    from django.test import SimpleTestCase


    class RouterTests(SimpleTestCase):  # a unit test, not a migration test: found by the survey
        def test_routes_analytics_models_to_their_app(self):
            class AnalyticsModel(models.Model):
                class Meta:
                    app_label = "analytics"

            class MyModel(models.Model):
                class Meta:
                    app_label = "analytics"

            self.assertEqual(AnalyticsModel._meta.app_label, MyModel._meta.app_label)
"""

SCHEMA_LEFT_BEHIND = """
    from django.test import TransactionTestCase
    from django_test_migrations.migrator import Migrator


    class RollbackTests(TransactionTestCase):
        def test_unapplies_the_barcode_migration(self):
            Migrator(database="default").apply_initial_migration(("shop", "0001_initial"))  # never reset
"""

POLLUTED = {
    "drift": (
        """
        from django.db import models
        from django.test import SimpleTestCase, tag


        @tag("migration_test")
        class InlineModelTests(SimpleTestCase):
            def test_defines_a_model_inline(self):
                class AnalyticsModel(models.Model):
                    class Meta:
                        app_label = "analytics"
        """,
        ("proved polluter", "{id} leaked 1 model(s) into installed app analytics (AnalyticsModel); makemigrations"),
        ("InlineModelTests", "test_defines_a_model_inline"),
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
        ("polluter", "{id} left [db_schema] "),
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
        ("leak", "{id} left [db_rows] row left in shop_product"),
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
        (
            "order-dependent",
            (
                "order-dependent: {id} fails in reversed (state-setter unknown: it came near no watched leak), "
                "passes in collected"
            ),
        ),
        ("BrittleTests", "test_b_brittle"),
    ),
}


def gate(
    scenario: Scenario, *options: str, settings: str = "gate_settings", output: Path | None = None
) -> tuple[Run, dict[str, Any]]:
    """Run the gate of `scenario`'s runner on the scenario package; its output goes to `output` (``gate/``)."""
    if not (scenario.root / "gate_settings.py").exists():
        (scenario.root / "gate_settings.py").write_text(textwrap.dedent(KEPT_DATABASE_SETTINGS))
    output = output or scenario.root / "gate"
    if scenario.runner == "django":
        command = [sys.executable, str(REPO / "manage.py"), "isolation_gate", "scenario", "--output", str(output)]
        done = run([*command, "-v", "2", *options], scenario.root, DJANGO_SETTINGS_MODULE=settings)
    else:
        command = [sys.executable, "-m", "django_isolation.cli", "gate", "--output", str(output), *options]
        done = run([*command, "--", f"--ds={settings}", "-s", "-vv", "scenario"], scenario.root)
    path = output / "gate.json"
    assert path.exists(), done.output
    return done, json.loads(path.read_text())


def builds(scenario: Scenario) -> int:
    """How many runs of the last gate migrated test databases from scratch (their logs say so)."""
    logs = (scenario.root / "gate").glob("*/output.log")
    return sum("Applying auth.0001_initial" in log.read_text() for log in logs)


def migration_test_ids(scenario: Scenario) -> set[str]:
    ids = {
        scenario.test_id("test_migrations", "BarcodeMigrationTests", "test_existing_products_get_an_empty_barcode"),
        scenario.test_id("test_migrations", "HandBuiltMigratorTests", "test_first_migration_applies_from_scratch"),
    }
    return ids | (
        {scenario.test_id("test_migrations", "test_barcode_column_is_added")} if scenario.runner == "pytest" else set()
    )


def test_founding_story_names_the_unit_test_and_the_migration_tests_it_breaks(scenario: Scenario) -> None:
    scenario.write("test_migrations.py", MIGRATION_TESTS)
    scenario.write("test_routers.py", ROUTER_POLLUTER)
    scenario.write("test_rollback.py", SCHEMA_LEFT_BEHIND)
    scenario.write("test_units.py", UNIT_TESTS)
    done, result = gate(scenario, "--shuffles", "1")
    assert done.returncode == 1, done.output
    router = scenario.test_id("test_routers", "RouterTests", "test_routes_analytics_models_to_their_app")
    rollback = scenario.test_id("test_rollback", "RollbackTests", "test_unapplies_the_barcode_migration")
    migration_tests = migration_test_ids(scenario)
    assert set(result["selected"]) == migration_tests | {rollback}  # the router and unit tests are not among them
    first = result["causes"][0]
    assert first["kind"] == "proved polluter" and first["test"] == router, result["causes"]
    assert set(first["victims"]) == migration_tests
    assert first["text"].startswith(
        f"{router} leaked 2 model(s) into installed app analytics (AnalyticsModel, MyModel)"
    )
    assert f"breaks {len(migration_tests)} migration test(s) (proved: polluter then victims)" in first["text"]
    [schema] = [cause for cause in result["causes"] if cause["test"] == rollback]
    assert schema["kind"] == "polluter" and "[db_schema] " in schema["text"]
    assert [run["kind"] for run in result["runs"]] == ["survey", "order", "order", "order", "paired", "paired"]
    assert builds(scenario) == 1, "the test database was built more than once"
    assert not left_test_database(scenario.root), "the gate left its test database behind"
    terminal = done.output[done.output.index("django-isolation gate FAILED") :].splitlines()
    assert terminal[1] == f"  - {first['text']}"  # decisive first, one line
    summary = (scenario.root / "gate" / "summary.md").read_text()
    assert summary.splitlines()[4] == f"- {first['text']}"
    suites = ElementTree.parse(scenario.root / "gate" / "junit.xml").getroot()
    [polluters] = [case for case in suites[-1] if case.get("name") == "no polluter breaks the migration tests"]
    assert polluters[0].get("message") == first["text"]


def test_the_clean_control_passes_in_every_order(scenario: Scenario) -> None:
    scenario.write("test_migrations.py", MIGRATION_TESTS)
    scenario.write("test_units.py", UNIT_TESTS)
    done, result = gate(scenario, "--shuffles", "1")
    assert done.returncode == 0, done.output
    assert result["status"] == "passed" and result["causes"] == []
    assert [run["label"].split(" ")[0] for run in result["runs"]] == ["survey", "collected", "reversed", "shuffled"]
    expected = len(migration_test_ids(scenario))
    assert [run["tests"] for run in result["runs"][1:]] == [expected] * 3
    assert all(run["findings"] == 0 and run["returncode"] == 0 for run in result["runs"])
    assert result["makemigrations"] == {
        "before": {"operations": {}, "error": None},
        "after": {"operations": {}, "error": None},
    }
    assert builds(scenario) == 1 and not left_test_database(scenario.root)
    assert "django-isolation gate passed" in done.output
    assert "time: " in done.output and "run 4 of 4: shuffled" in done.output
    summary = (scenario.root / "gate" / "summary.md").read_text()
    assert summary.startswith("## django-isolation gate: passed")
    suites = ElementTree.parse(scenario.root / "gate" / "junit.xml").getroot()
    assert [suite.get("failures") for suite in suites] == ["0"] * 4


@pytest.mark.parametrize("variant", sorted(POLLUTED))
def test_each_polluted_variant_fails_the_gate_with_its_cause(scenario: Scenario, variant: str) -> None:
    source, (kind, start), names = POLLUTED[variant]
    scenario.write("test_migrations.py", MIGRATION_TESTS)
    scenario.write("test_polluted.py", source)
    done, result = gate(scenario, "--shuffles", "0")
    test_id = scenario.test_id("test_polluted", *names)
    assert done.returncode == 1, done.output
    assert result["status"] == "failed"
    chosen = [cause for cause in result["causes"] if cause["kind"] == kind]
    assert any(cause["text"].startswith(start.format(id=test_id)) for cause in chosen), result["causes"]
    if variant == "rows":  # each run starts from the database as built, not with the row the last run left
        assert not [cause for cause in result["causes"] if cause["kind"] == "order-dependent"], result["causes"]
    assert "django-isolation gate FAILED" in done.output
    suites = ElementTree.parse(scenario.root / "gate" / "junit.xml").getroot()
    assert suites[-1].get("failures") != "0"


def test_an_output_directory_outside_the_project_leaves_the_test_ids_alone(scenario: Scenario) -> None:
    scenario.write("test_migrations.py", BARCODE_MIGRATION_TEST)
    outside = scenario.root.parent / f"{scenario.root.name}-gate"  # pytest would take the replay file for a path
    done, result = gate(scenario, "--shuffles", "0", output=outside)
    assert done.returncode == 0, done.output
    test_id = scenario.test_id("test_migrations", "BarcodeMigrationTests", "test_barcode_is_added")
    assert result["selected"] == [test_id]
    assert [run["tests"] for run in result["runs"]] == [1, 1, 1]


def test_the_printed_command_reproduces_an_order(scenario: Scenario) -> None:
    scenario.write("test_polluted.py", POLLUTED["order"][0])
    done, result = gate(scenario, "--shuffles", "0")
    reversed_run = next(run for run in result["runs"] if run["label"] == "reversed")
    printed = next(line for line in done.output.splitlines() if line.strip().startswith("reversed: "))
    command = shlex.split(printed.strip().removeprefix("reversed: "))
    assert command == reversed_run["command"]
    again = run(command, scenario.root, DJANGO_SETTINGS_MODULE="gate_settings")
    assert again.returncode != 0, again.output
    victim = scenario.test_id("test_polluted", "BrittleTests", "test_b_brittle")
    report = json.loads(Path(reversed_run["report"]).read_text())
    assert report["failed"]["main"] == [victim]


def test_shuffle_seeds_are_reusable(scenario: Scenario) -> None:
    scenario.write("test_polluted.py", POLLUTED["order"][0])
    _, first = gate(scenario, "--shuffles", "0", "--seed", "11", "--seed", "12")
    _, second = gate(scenario, "--shuffles", "0", "--seed", "11", "--seed", "12")
    labels = [run["label"] for run in first["runs"]]
    assert labels == ["survey", "collected", "reversed", "shuffled (seed 11)", "shuffled (seed 12)"]
    assert first["tests"] == second["tests"]


BARCODE_MIGRATION_TEST = """
    from django_test_migrations.contrib.unittest_case import MigratorTestCase


    class BarcodeMigrationTests(MigratorTestCase):
        migrate_from = ("shop", "0001_initial")
        migrate_to = ("shop", "0002_product_barcode")

        def test_barcode_is_added(self):
            Product = self.new_state.apps.get_model("shop", "Product")
            self.assertIn("barcode", [field.name for field in Product._meta.get_fields()])
"""

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
    scenario.write("test_migrations.py", BARCODE_MIGRATION_TEST)
    done, result = gate(scenario, "--shuffles", "0")
    assert done.returncode == 1, done.output
    # (pytest-django before 4.6 also serializes the database for transactional tests, which fails on that
    # model: the migration test fails there too)
    [cause] = [cause for cause in result["causes"] if cause["kind"] == "migrations"]
    assert cause["text"].startswith("makemigrations --check before the tests: gateapp: ")
    assert cause["text"].endswith("Add field name to thing")  # "+ Add ..." since Django 5.1, "- Add ..." before
    assert result["makemigrations"]["after"] == result["makemigrations"]["before"]
    assert all(run["findings"] == 0 for run in result["runs"])  # pending at the start: no drift finding


def test_no_selected_test_is_a_failure_of_its_own(scenario: Scenario) -> None:
    scenario.write("test_units.py", UNIT_TESTS)
    done, result = gate(scenario, "--shuffles", "0")
    assert done.returncode == 5, done.output
    assert result["status"] == "failed" and result["selected"] == []
    assert [run["kind"] for run in result["runs"]] == ["survey"]
    assert "no migration test was selected" in done.output
