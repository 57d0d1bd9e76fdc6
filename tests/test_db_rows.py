"""The db_rows check through real runs: leftover rows caught with their inserting line, and quiet
on Django's and pytest-django's own isolation. Runs on SQLite or PostgreSQL, as DATABASE_URL says."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from runs import Run, Scenario


def line_of(source: str, marker: str) -> int:
    """The line of `source` (as Scenario.write dedents it) that ends with `# @<marker>`."""
    lines = textwrap.dedent(source).splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.rstrip().endswith(f"# @{marker}"))


def row_findings(run: Run, table: str | None = None) -> list[dict[str, Any]]:
    rows = [f for f in run.findings if f["check"] == "db_rows"]
    return [f for f in rows if table is None or f["details"]["table"] == table]


TESTCASE_CLEAN = """
    from django.test import TestCase

    from testproject.shop.models import Order, Product


    class ShopTests(TestCase):
        @classmethod
        def setUpTestData(cls):
            cls.product = Product.objects.create(name="Mug", sku="MUG", price="9.50")

        def test_order(self):
            Order.objects.create(product=self.product, quantity=2)
            self.assertEqual(Order.objects.count(), 1)

        def test_products(self):
            Product.objects.create(name="Pen", sku="PEN", price="1.00")
            self.assertEqual(Product.objects.count(), 2)  # the mug and the pen
"""


def test_testcase_with_set_up_test_data_is_quiet(scenario: Scenario) -> None:
    scenario.write("test_shop.py", TESTCASE_CLEAN)
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 2  # type: ignore[index]
    assert run.findings == []


PATHS = """
    import os

    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import TestCase

    from testproject.shop.models import Product


    class WritePathTests(TestCase):
        @classmethod
        def setUpClass(cls):  # writes before the class transaction opens: committed, left behind
            User(username="saved").save()  # @save
            User.objects.create(username="created")  # @create
            User.objects.get_or_create(username="got")  # @get_or_create
            Product.objects.bulk_create([Product(name="A", sku="A", price=1), Product(name="B", sku="B", price=2)])  # @bulk
            group = Group.objects.create(name="staff")  # @group
            User.objects.get(username="saved").groups.add(group)  # @m2m
            call_command("loaddata", os.path.join(os.path.dirname(__file__), "views.json"), verbosity=0)  # @loaddata
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO shop_order (product_id, quantity, created) VALUES ((SELECT id FROM shop_product WHERE sku = %s), %s, %s)", ["A", 3, "2026-01-01 00:00:00+00:00"])  # @raw
                cursor.execute("  insert into auth_group (name) values (%s)", ["lower"])  # @lower
            super().setUpClass()

        def test_sees_them(self):
            self.assertEqual(User.objects.count(), 3)
"""
FIXTURE = '[{"model": "analytics.pageview", "pk": 700, "fields": {"path": "/from-fixture", "viewed_at": "2026-01-01T00:00:00Z"}}]'


def test_every_insert_path_is_caught_with_its_line(scenario: Scenario) -> None:
    scenario.write("test_paths.py", PATHS)
    scenario.write("views.json", FIXTURE)
    run = scenario.run()
    assert run.returncode == 0, run.output
    findings = row_findings(run)
    assert {f["test"] for f in findings} == {scenario.test_id("test_paths", "WritePathTests")}
    assert {f["details"]["scope"] for f in findings} == {"class"}
    assert {f["origin"][0]["file"] for f in findings} == {"scenario/test_paths.py"}
    lines = {(f["details"]["table"], f["origin"][0]["line"]) for f in findings}
    assert lines == {
        ("auth_user", line_of(PATHS, "save")),
        ("auth_user", line_of(PATHS, "create")),
        ("auth_user", line_of(PATHS, "get_or_create")),
        ("shop_product", line_of(PATHS, "bulk")),
        ("auth_group", line_of(PATHS, "group")),
        ("auth_user_groups", line_of(PATHS, "m2m")),
        ("analytics_pageview", line_of(PATHS, "loaddata")),
        ("shop_order", line_of(PATHS, "raw")),
        ("auth_group", line_of(PATHS, "lower")),  # lower-cased, after white space: the tap's slow path
    }
    users = {
        f["details"]["row"].split("username=")[1].split(",")[0]: f["origin"][0]["line"]
        for f in row_findings(run, "auth_user")
    }
    assert users == {
        "'saved'": line_of(PATHS, "save"),
        "'created'": line_of(PATHS, "create"),
        "'got'": line_of(PATHS, "get_or_create"),
    }
    assert len(row_findings(run, "shop_product")) == 2
    [pageview] = row_findings(run, "analytics_pageview")
    assert pageview["details"]["pk"] == 700 and "path='/from-fixture'" in pageview["details"]["row"]


UNITTEST_LEAK = """
    import unittest

    from django.contrib.auth.models import User
    from django.test import TestCase


    class AccountTests(TestCase):  # a database test, so that the run sets the test database up
        def test_no_users(self):
            self.assertFalse(User.objects.exists())


    class SignupTests(unittest.TestCase):
        def test_signup(self):
            User.objects.create(username="ned")  # @leak
"""


def test_plain_unittest_leak_names_table_pk_row_and_line(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_signup.py", UNITTEST_LEAK)
    run = scenario.run()
    assert run.returncode == 0, run.output
    [finding] = row_findings(run)
    assert finding["test"] == "scenario.test_signup.SignupTests.test_signup"
    assert finding["details"]["database"] == "default"
    assert finding["details"]["table"] == "auth_user"
    assert isinstance(finding["details"]["pk"], int)
    assert "username='ned'" in finding["details"]["row"]
    assert finding["origin"][0] == {
        "file": "scenario/test_signup.py",
        "line": line_of(UNITTEST_LEAK, "leak"),
        "function": "test_signup",
    }
    assert "row left in auth_user (database 'default'): auth_user(id=" in run.output


FIXTURE_SCOPE = """
    import pytest
    from django.contrib.auth.models import User


    @pytest.fixture(scope="module")
    def ned(django_db_setup, django_db_blocker):
        with django_db_blocker.unblock():
            user = User.objects.create(username="ned")  # @create
        yield user
        if {cleanup}:
            with django_db_blocker.unblock():
                user.delete()


    @pytest.mark.django_db
    def test_one(ned):
        assert User.objects.filter(username="ned").exists()


    @pytest.mark.django_db
    def test_two(ned):
        assert ned.pk
"""


def test_pytest_module_fixture_leak_is_reported_against_the_fixture(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    source = FIXTURE_SCOPE.format(cleanup=False)
    scenario.write("test_fixture.py", source)
    run = scenario.run()
    assert run.returncode == 0, run.output
    [finding] = row_findings(run)
    assert finding["test"] == "scenario/test_fixture.py"
    assert finding["details"]["fixture"] == "ned"
    assert finding["details"]["fixture_origin"] == "scenario/test_fixture.py:6 in ned"
    assert finding["details"]["first_test"] == "scenario/test_fixture.py::test_one"
    assert finding["origin"][0]["line"] == line_of(source, "create")


def test_pytest_module_fixture_that_removes_its_rows_is_quiet(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_fixture.py", FIXTURE_SCOPE.format(cleanup=True))
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert run.findings == []


def test_pytest_django_db_marks_are_quiet(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write(
        "test_marks.py",
        """
        import pytest
        from django.contrib.auth.models import User


        @pytest.mark.django_db
        def test_db():
            User.objects.create(username="a")


        @pytest.mark.django_db(transaction=True)
        def test_transactional():
            User.objects.create(username="b")


        @pytest.mark.django_db(databases=["default", "other"])
        def test_two_databases():
            User.objects.using("other").create(username="c")
        """,
    )
    run = scenario.run()
    assert run.returncode == 0, run.output
    assert "3 passed" in run.output
    assert run.findings == []


LEAKY_CLASS = """
    class ALeakyTests(TestCase):
        @classmethod
        def setUpClass(cls):  # writes before the class transaction opens: committed, left behind
            User.objects.create(username="USERNAME")
            super().setUpClass()

        def test_nothing(self):
            pass
"""

TRANSACTIONAL = (
    """
    from django.contrib.auth.models import User
    from django.test import TestCase, TransactionTestCase


"""
    + LEAKY_CLASS.replace("USERNAME", "leaked")
    + """

    class BFlushTests(TransactionTestCase):
        serialized_rollback = {serialized}

        def test_writes_and_is_flushed(self):
            User.objects.create(username="own")
"""
)


def test_transaction_test_case_is_named_the_cleaner_and_its_own_rows_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_flush.py", TRANSACTIONAL.format(serialized=False))
    run = scenario.run()
    assert run.returncode == 0, run.output
    [leak] = run.findings
    assert leak["test"] == scenario.test_id("test_flush", "ALeakyTests")
    assert "username='leaked'" in leak["details"]["row"]
    assert leak["details"]["cleaned_by"] == scenario.test_id("test_flush", "BFlushTests", "test_writes_and_is_flushed")


def test_data_migration_rows_are_baseline(scenario: Scenario) -> None:
    scenario.write(
        "test_catalog.py",
        """
        from django.test import TestCase

        from testproject.catalog.models import Category


        class CatalogTests(TestCase):
            def test_default_category(self):
                Category.objects.create(name="Mugs")
                self.assertEqual(Category.objects.count(), 2)
        """,
    )
    run = scenario.run(settings="testproject.settings_with_catalog")
    assert run.returncode == 0, run.output
    assert run.findings == []


def test_transaction_test_case_flushing_data_migration_rows_is_reported(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_flush.py", TRANSACTIONAL.format(serialized=False))
    run = scenario.run(settings="testproject.settings_with_catalog")
    flush_id = scenario.test_id("test_flush", "BFlushTests", "test_writes_and_is_flushed")
    [deleted] = [f for f in row_findings(run) if f["details"].get("deleted")]
    assert deleted["test"] == flush_id
    assert deleted["details"]["table"] == "catalog_category"  # the row of catalog's data migration
    assert deleted["details"]["deleted"] == 1
    assert "serialized_rollback" in deleted["advice"]
    assert [f["details"]["table"] for f in row_findings(run) if f["test"] == flush_id] == ["catalog_category"]


FLUSH_AFTER_A_LEAKED_MODEL = """
    from django.contrib.auth.models import User
    from django.db import models
    from django.test import SimpleTestCase, TransactionTestCase


    class AModelTests(SimpleTestCase):
        def test_defines_a_model(self):
            class LeakedModel(models.Model):
                class Meta:
                    app_label = "shop"


    class BFlushTests(TransactionTestCase):
        def test_writes_and_is_flushed(self):
            User.objects.create(username="own")
"""


def test_rows_re_created_by_a_flush_are_baseline_and_a_leaked_models_content_type_is_reported(
    scenario: Scenario,
) -> None:
    """The flush's post_migrate re-creates every content type and permission with new keys: equal by natural key,
    they are the baseline; the rows of a model leaked into the registry are new, and point to that leak."""
    scenario.write("test_flush.py", FLUSH_AFTER_A_LEAKED_MODEL)
    # pytest-django runs database tests first; reversed, the model leaks before the flush, as under Django's runner.
    order = ["--isolation-order", "reversed"] if scenario.runner == "pytest" else []
    run = scenario.run(*order, checks="apps_registry,db_rows")
    assert run.returncode == 0, run.output
    flush_id = scenario.test_id("test_flush", "BFlushTests", "test_writes_and_is_flushed")
    [rows] = row_findings(run)  # one finding for the model's rows: no re-created row, no baseline row deleted
    assert rows["test"] == flush_id
    assert (rows["details"]["model"], rows["details"]["tables"]) == (
        "shop.leakedmodel",
        ["auth_permission", "django_content_type"],
    )
    assert len(rows["details"]["rows"]) == 5  # its content type and its four default permissions
    assert rows["summary"].startswith("5 row(s) for shop.leakedmodel, a model added to the app registry during the run")
    assert "apps_registry finding for shop.leakedmodel" in rows["advice"]
    [registry] = [f for f in run.findings if f["check"] == "apps_registry"]
    assert registry["test"] == scenario.test_id("test_flush", "AModelTests", "test_defines_a_model")


def test_leak_on_the_second_database_is_found_and_attributed(scenario: Scenario) -> None:
    scenario.write(
        "test_other.py",
        """
        from django.test import TestCase

        from testproject.shop.models import Product


        class LeakyTests(TestCase):
            databases = {"default", "other"}

            @classmethod
            def setUpClass(cls):
                Product.objects.using("other").create(name="Left", sku="L", price=1)
                super().setUpClass()

            def test_both(self):
                Product.objects.using("other").create(name="Rolled back", sku="R", price=1)
        """,
    )
    run = scenario.run()
    assert run.returncode == 0, run.output
    [finding] = row_findings(run)
    assert finding["test"] == scenario.test_id("test_other", "LeakyTests")
    assert (finding["details"]["database"], finding["details"]["table"]) == ("other", "shop_product")
    assert "name='Left'" in finding["details"]["row"]


VICTIMS = (
    """
    from django.contrib.auth.models import User
    from django.test import TestCase

    from testproject.shop.models import Product


"""
    + LEAKY_CLASS.replace("USERNAME", "ned")
    + """

    class BUserTests(TestCase):
        def test_creates_ned_again(self):
            User.objects.create(username="ned")

        def test_fails_elsewhere(self):
            self.assertEqual(Product.objects.count(), 1)
"""
)


def test_failure_on_a_table_with_leaked_rows_names_the_polluter(scenario: Scenario) -> None:
    scenario.write("test_users.py", VICTIMS)
    run = scenario.run()
    assert run.returncode == 1, run.output
    polluter = scenario.test_id("test_users", "ALeakyTests")
    assert run.victims == {scenario.test_id("test_users", "BUserTests", "test_creates_ned_again"): [polluter]}
    assert "IntegrityError" in run.output


KEEPDB_SETTINGS = """
    from testproject.settings import *  # noqa: F403

    if "sqlite" in DATABASES["default"]["ENGINE"]:  # noqa: F405
        DATABASES["default"]["TEST"] = {{"NAME": {path!r}}}  # noqa: F405
"""


def test_rows_already_in_a_kept_database_are_baseline(scenario: Scenario) -> None:
    scenario.write("settings.py", KEEPDB_SETTINGS.format(path=str(scenario.root / "kept.sqlite3")))
    leak = UNITTEST_LEAK if scenario.runner == "django" else FIXTURE_SCOPE.format(cleanup=False)
    scenario.write("test_leak.py", leak)
    keep = "--keepdb" if scenario.runner == "django" else "--reuse-db"
    first = scenario.run(keep, settings="scenario.settings")
    assert len(row_findings(first)) == 1, first.output
    (scenario.root / "scenario" / "test_leak.py").unlink()
    scenario.write("test_shop.py", TESTCASE_CLEAN)
    second = scenario.run(keep, settings="scenario.settings")
    assert second.returncode == 0, second.output
    assert second.findings == []
    dropped = scenario.run(*(["--create-db"] if scenario.runner == "pytest" else []), settings="scenario.settings")
    assert dropped.returncode == 0, dropped.output  # a run without keepdb destroys the kept database


def test_a_write_to_a_database_that_is_not_a_test_database_is_refused(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scratch = tmp_path / "scratch.sqlite3"
    scenario.write(
        "settings.py",
        f"""
        from testproject.settings import *  # noqa: F403

        DATABASES["scratch"] = {{"ENGINE": "django.db.backends.sqlite3", "NAME": {str(scratch)!r}}}  # noqa: F405
        """,
    )
    scenario.write(
        "test_scratch.py",
        """
        import unittest

        from django.db import connections


        class ScratchTests(unittest.TestCase):
            def test_writes_to_a_scratch_file(self):
                with connections["scratch"].cursor() as cursor:
                    cursor.execute("CREATE TABLE IF NOT EXISTS note (body text)")
                    cursor.execute("INSERT INTO note (body) VALUES ('x')")
        """,
    )
    run = scenario.run(settings="scenario.settings")
    assert run.returncode == 0, run.output
    [error] = run.report["check_errors"]  # type: ignore[index]
    assert error["check"] == "db_rows"
    assert f"refusing to read database '{scratch}' (alias 'scratch')" in error["error"]
    assert "CHECK ERROR db_rows" in run.output


def test_a_write_outside_django_connections_is_caught_when_the_module_ends(scenario: Scenario) -> None:
    scenario.write(
        "test_outside.py",
        """
        from django.db import connection
        from django.test import TestCase


        class OutsideTests(TestCase):
            def test_writes_through_its_own_connection(self):
                raw = connection.get_new_connection(connection.get_connection_params())
                try:
                    raw.cursor().execute("INSERT INTO auth_group (name) VALUES ('outsiders')")
                    raw.commit()
                finally:
                    raw.close()
        """,
    )
    run = scenario.run()
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == ("scenario.test_outside" if scenario.runner == "django" else "scenario/test_outside.py")
    assert finding["details"]["scope"] == "module"
    assert finding["details"]["table"] == "auth_group" and "name='outsiders'" in finding["details"]["row"]
    assert finding["origin"] == []  # no statement of Django's made it
