"""The db_schema check through real runs: migrations and schema left changed by a test are caught and attributed,
and correct migration tests and rolled-back DDL are quiet. Runs on SQLite or PostgreSQL, as DATABASE_URL says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runs import Run, Scenario
from test_db_rows import line_of


def schema_findings(run: Run) -> list[dict[str, Any]]:
    return [f for f in run.findings if f["check"] == "db_schema"]


def summaries(run: Run) -> set[str]:
    return {f["summary"] for f in schema_findings(run)}


BACKWARD = """
    from django.core.management import call_command
    from django.test import TransactionTestCase


    class ReportTests(TransactionTestCase):
        databases = {{"default", "other"}}

        def test_report_before_barcodes(self):
            call_command("migrate", "shop", "0001_initial", database="other", verbosity=0)  # @migrate
{teardown}
"""
MIGRATE_BACK = """
        def tearDown(self):
            call_command("migrate", "shop", database="other", verbosity=0)
            super().tearDown()
"""


def test_backward_migration_left_unreverted_is_caught_with_its_database(scenario: Scenario) -> None:
    source = BACKWARD.format(teardown="")
    scenario.write("test_backward.py", source)
    run = scenario.run()
    assert run.returncode == 0, run.output
    findings = schema_findings(run)
    test = scenario.test_id("test_backward", "ReportTests", "test_report_before_barcodes")
    assert {f["test"] for f in findings} == {test}
    assert summaries(run) == {
        "migration shop.0002_product_barcode unapplied (database 'other')",
        "missing column shop_product.barcode (database 'other')",  # its index goes with it: not listed
    }
    by_kind = {f["details"]["kind"]: f for f in findings}
    assert by_kind["migration"]["details"] | {"scope": None} == {
        "database": "other",
        "kind": "migration",
        "change": "unapplied",
        "migration": "shop.0002_product_barcode",
        "before": "applied",
        "after": "unapplied",
        "scope": None,
    }
    column = by_kind["column"]["details"]
    assert (column["table"], column["column"], column["after"]) == ("shop_product", "shop_product.barcode", None)
    assert "NOT NULL" in column["before"]
    lines = {f["origin"][0]["line"] for f in findings}
    assert lines == {line_of(source, "migrate")}
    assert all("migrate back" in f["advice"] for f in findings)
    assert not any("cleaned_by" in f["details"] for f in findings)  # not by the test databases' destruction


def test_backward_migration_reverted_in_teardown_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_backward.py", BACKWARD.format(teardown=MIGRATE_BACK))
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert schema_findings(run) == []


MIGRATOR_TEST_CASE = """
    from django_test_migrations.contrib.unittest_case import MigratorTestCase


    class BarcodeRemovalTests(MigratorTestCase):
        migrate_from = ("shop", "0002_product_barcode")
        migrate_to = ("shop", "0001_initial")

        def prepare(self):
            Product = self.old_state.apps.get_model("shop", "Product")
            Product.objects.create(name="Mug", sku="MUG", price="9.50", barcode="123")

        def test_products_survive_the_removal(self):
            Product = self.new_state.apps.get_model("shop", "Product")
            self.assertEqual(Product.objects.get().name, "Mug")
{teardown}
"""
SKIPPED_RESET = """
        def tearDown(self):  # without super().tearDown(): no migrator.reset()
            pass
"""

MIGRATOR_WITHOUT_RESET = """
    import pytest
    from django_test_migrations.migrator import Migrator


    @pytest.mark.django_db(transaction=True)
    def test_barcode_migration():
        migrator = Migrator()
        old_state = migrator.apply_initial_migration(("shop", "0002_product_barcode"))
        new_state = migrator.apply_tested_migration(("shop", "0001_initial"))  # @tested
        assert old_state.apps.get_model("shop", "Product")._meta.get_field("barcode")
        assert "barcode" not in {f.name for f in new_state.apps.get_model("shop", "Product")._meta.get_fields()}
"""

MIGRATOR_FIXTURE = """
    import pytest


    @pytest.mark.django_db(transaction=True)
    def test_barcode_migration(migrator):
        migrator.apply_initial_migration(("shop", "0002_product_barcode"))
        new_state = migrator.apply_tested_migration(("shop", "0001_initial"))
        assert "barcode" not in {f.name for f in new_state.apps.get_model("shop", "Product")._meta.get_fields()}
"""


def test_migrator_test_case_whose_teardown_skips_super_is_caught(scenario: Scenario) -> None:
    scenario.write("test_removal.py", MIGRATOR_TEST_CASE.format(teardown=SKIPPED_RESET))
    run = scenario.run()
    assert run.returncode == 0, run.output
    test = scenario.test_id("test_removal", "BarcodeRemovalTests", "test_products_survive_the_removal")
    assert {f["test"] for f in schema_findings(run)} == {test}
    assert summaries(run) == {
        "migration shop.0002_product_barcode unapplied (database 'default')",
        "missing column shop_product.barcode (database 'default')",
    }
    assert all("MigratorTestCase.tearDown's super().tearDown()" in f["advice"] for f in schema_findings(run))


def test_migrator_test_case_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_removal.py", MIGRATOR_TEST_CASE.format(teardown=""))
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert schema_findings(run) == []


def test_migrator_without_reset_is_caught_at_the_migrating_line(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_migrator.py", MIGRATOR_WITHOUT_RESET)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert {f["test"] for f in schema_findings(run)} == {"scenario/test_migrator.py::test_barcode_migration"}
    assert summaries(run) == {
        "migration shop.0002_product_barcode unapplied (database 'default')",
        "missing column shop_product.barcode (database 'default')",
    }
    assert {f["origin"][0]["line"] for f in schema_findings(run)} == {line_of(MIGRATOR_WITHOUT_RESET, "tested")}


def test_pytest_migrator_fixture_is_quiet(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_migrator.py", MIGRATOR_FIXTURE)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert "1 passed" in run.output
    assert schema_findings(run) == []


COUPONS = """
    from django.db import models
    from django.test.utils import isolate_apps


    @isolate_apps("testproject.shop")
    def coupon_model():
        class Coupon(models.Model):
            code = models.CharField(max_length=20)

            class Meta:
                app_label = "shop"

        return Coupon
"""
SCHEMA_EDITOR = """
    from django.db import connection, models
    from django.test import TransactionTestCase

    from scenario.coupons import coupon_model
    from testproject.shop.models import Order, Product

    NAME = Product._meta.get_field("name")
    LONGER_NAME = models.CharField(max_length=150)
    LONGER_NAME.set_attributes_from_name("name")


    class CouponTests(TransactionTestCase):
        def test_coupon_table(self):
            Coupon = coupon_model()
            with connection.schema_editor() as editor:
                editor.create_model(Coupon)  # @create
                editor.add_index(Order, models.Index(fields=["quantity"], name="shop_order_qty_idx"))  # @index
                editor.alter_field(Product, NAME, LONGER_NAME)  # @alter
            Coupon.objects.create(code="TEN")
{teardown}
"""
DROP_IT = """
        def tearDown(self):
            with connection.schema_editor() as editor:
                editor.delete_model(coupon_model())
                editor.remove_index(Order, models.Index(fields=["quantity"], name="shop_order_qty_idx"))
                editor.alter_field(Product, LONGER_NAME, NAME)
            super().tearDown()
"""

ROLLED_BACK = """
    from unittest import skipUnless

    from django.db import connection
    from django.test import TestCase

    from scenario.coupons import coupon_model


    class ClassLevelTests(TestCase):
        @classmethod
        def setUpClass(cls):
            super().setUpClass()
            with connection.cursor() as cursor:  # inside the class's transaction: rolled back after its last test
                cursor.execute("CREATE TABLE shop_note (id integer PRIMARY KEY, body text)")

        def test_notes(self):
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO shop_note (id, body) VALUES (1, 'x')")


    class TestLevelTests(TestCase):
        def test_raw_ddl(self):
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE shop_product ADD COLUMN note text")
                cursor.execute("CREATE INDEX shop_product_name_idx ON shop_product (name)")
                cursor.execute("DROP TABLE shop_order")

        # SQLite's schema editor refuses to start inside a transaction (it cannot switch foreign keys off there).
        @skipUnless(connection.vendor == "postgresql", "PostgreSQL only")
        def test_schema_editor(self):
            with connection.schema_editor() as editor:
                editor.create_model(coupon_model())
"""


def test_table_index_and_column_changed_with_schema_editor_and_left_are_caught(scenario: Scenario) -> None:
    scenario.write("coupons.py", COUPONS)
    source = SCHEMA_EDITOR.format(teardown="")
    scenario.write("test_editor.py", source)
    run = scenario.run()
    assert run.returncode == 0, run.output
    findings = {f["details"]["kind"]: f for f in schema_findings(run)}
    assert set(findings) == {"table", "index", "column"}
    table, index, column = findings["table"], findings["index"], findings["column"]
    test = scenario.test_id("test_editor", "CouponTests", "test_coupon_table")
    assert {f["test"] for f in findings.values()} == {test}
    assert table["summary"] == "extra table shop_coupon (database 'default')"
    assert (table["details"]["before"], table["details"]["after"]) == (None, "table (id, code)")
    assert index["summary"] == "extra index shop_order_qty_idx on shop_order (database 'default')"
    assert index["details"]["after"].startswith("INDEX ") and "quantity" in index["details"]["after"]
    assert column["summary"].startswith("changed column shop_product.name (database 'default'): ")
    assert "(100) NOT NULL" in column["details"]["before"] and "(150) NOT NULL" in column["details"]["after"]
    assert table["origin"][0]["line"] == line_of(source, "create")
    assert index["origin"][0]["line"] == line_of(source, "index")
    assert column["origin"][0]["line"] == line_of(source, "alter")
    assert "DuplicateTable" in table["advice"]


def test_schema_editor_ddl_undone_in_teardown_or_rolled_back_is_quiet(scenario: Scenario) -> None:
    scenario.write("coupons.py", COUPONS)
    scenario.write("test_editor.py", SCHEMA_EDITOR.format(teardown=DROP_IT))
    scenario.write("test_rolled_back.py", ROLLED_BACK)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 4  # type: ignore[index]
    assert schema_findings(run) == []


FORWARD = {
    "shop_migrations/__init__.py": "",
    "shop_migrations/0001_initial.py": """
        from importlib import import_module

        Migration = import_module("testproject.shop.migrations.0001_initial").Migration
    """,
    "shop_migrations/0002_product_barcode.py": """
        from importlib import import_module

        Migration = import_module("testproject.shop.migrations.0002_product_barcode").Migration
    """,
    "shop_migrations/0003_coupon.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("shop", "0002_product_barcode")]

            operations = [
                migrations.CreateModel(
                    name="Coupon",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                        ("code", models.CharField(max_length=20)),
                    ],
                ),
            ]
    """,
}
FORWARD_TEST = """
    from django.core.management import call_command
    from django.test import TransactionTestCase, override_settings


    # shop's migrations plus a 0003 that the test database was not created with, as Django's own tests do
    @override_settings(MIGRATION_MODULES={{"shop": "scenario.shop_migrations"}})
    class CouponMigrationTests(TransactionTestCase):
        def test_coupons_migrate(self):
            call_command("migrate", "shop", verbosity=0)  # @migrate
{teardown}
"""
UNAPPLY = """
        def tearDown(self):
            call_command("migrate", "shop", "0002_product_barcode", verbosity=0)
            super().tearDown()
"""


def test_migration_applied_forward_and_kept_is_caught(scenario: Scenario) -> None:
    for name, source in FORWARD.items():
        scenario.write(name, source)
    source = FORWARD_TEST.format(teardown="")
    scenario.write("test_forward.py", source)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert {f["test"] for f in schema_findings(run)} == {
        scenario.test_id("test_forward", "CouponMigrationTests", "test_coupons_migrate")
    }
    assert summaries(run) == {
        "migration shop.0003_coupon applied (database 'default')",
        "extra table shop_coupon (database 'default')",
    }
    assert {f["origin"][0]["line"] for f in schema_findings(run)} == {line_of(source, "migrate")}


def test_migration_applied_forward_and_unapplied_in_teardown_is_quiet(scenario: Scenario) -> None:
    for name, source in FORWARD.items():
        scenario.write(name, source)
    scenario.write("test_forward.py", FORWARD_TEST.format(teardown=UNAPPLY))
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert schema_findings(run) == []


OUTSIDE = """
    from django.db import connection
    from django.test import TransactionTestCase


    class OwnConnectionTests(TransactionTestCase):
        def test_own_connection(self):
            own = connection.get_new_connection(connection.get_connection_params())  # not one of Django's
            own.cursor().execute("CREATE TABLE shop_outside (id integer)")
            own.commit()
            own.close()
"""


def test_ddl_outside_djangos_connections_is_caught_where_the_module_ends(scenario: Scenario) -> None:
    scenario.write("test_outside.py", OUTSIDE)
    run = scenario.run()
    assert run.returncode == 0, run.output
    [finding] = schema_findings(run)
    module = "scenario.test_outside" if scenario.runner == "django" else "scenario/test_outside.py"
    assert (finding["test"], finding["details"]["scope"]) == (module, "module")
    assert finding["summary"] == "extra table shop_outside (database 'default')"


DUPLICATE_TABLE = """
    from django.db import connection
    from django.test import TransactionTestCase

    from scenario.coupons import coupon_model


    class ACouponTests(TransactionTestCase):
        def test_creates_the_coupon_table(self):
            with connection.schema_editor() as editor:
                editor.create_model(coupon_model())


    class BCouponTests(TransactionTestCase):
        def test_creates_and_drops_the_coupon_table(self):
            Coupon = coupon_model()
            with connection.schema_editor() as editor:
                editor.create_model(Coupon)
            with connection.schema_editor() as editor:
                editor.delete_model(Coupon)
"""


def test_duplicate_table_failure_names_the_test_that_left_the_table(scenario: Scenario) -> None:
    scenario.write("coupons.py", COUPONS)
    scenario.write("test_duplicate.py", DUPLICATE_TABLE)
    run = scenario.run()
    assert run.returncode == 1, run.output
    polluter = scenario.test_id("test_duplicate", "ACouponTests", "test_creates_the_coupon_table")
    victim = scenario.test_id("test_duplicate", "BCouponTests", "test_creates_and_drops_the_coupon_table")
    assert run.victims == {victim: [polluter]}
    assert "already exists" in run.output
    [finding] = schema_findings(run)
    assert (finding["test"], finding["summary"]) == (polluter, "extra table shop_coupon (database 'default')")
