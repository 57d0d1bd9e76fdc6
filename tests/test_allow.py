"""Leaks allowed on purpose: the decorator, the pytest mark and --isolation-allow, through both fronts."""

from __future__ import annotations

import pytest
from runs import Scenario

STATE_SETTERS = """
    from django.db import models
    from django.test import SimpleTestCase

    from django_isolation import isolation_allow


    class StateSetterTests(SimpleTestCase):
        @isolation_allow("apps_registry:shop.*")
        def test_defines_a_shop_model_on_purpose(self):
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"

        @isolation_allow("apps_registry:analytics.*")
        def test_allows_another_label_only(self):
            class Voucher(models.Model):
                class Meta:
                    app_label = "shop"


    @isolation_allow("apps_registry")
    class WholeClassTests(SimpleTestCase):
        def test_any_model(self):
            class GiftCard(models.Model):
                class Meta:
                    app_label = "shop"
"""


def test_the_decorator_allows_matching_leaks_only(scenario: Scenario) -> None:
    scenario.write("test_setters.py", STATE_SETTERS)
    run = scenario.run(checks="apps_registry")
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_setters", "StateSetterTests", "test_allows_another_label_only")
    assert run.report is not None
    allowed = {(a["test"], a["pattern"]) for a in run.report["allowed"]}
    assert allowed == {
        (scenario.test_id("test_setters", "StateSetterTests", "test_defines_a_shop_model_on_purpose"), "apps_registry:shop.*"),
        (scenario.test_id("test_setters", "WholeClassTests", "test_any_model"), "apps_registry"),
    }
    assert "2 leak(s) allowed on purpose" in run.output


def test_the_option_allows_for_the_whole_run(scenario: Scenario) -> None:
    scenario.write("test_setters.py", STATE_SETTERS)
    run = scenario.run("--isolation-allow", "apps_registry:shop.voucher", checks="apps_registry")
    assert run.returncode == 0, run.output
    assert run.findings == []
    assert "allowed: apps_registry:shop.voucher (--isolation-allow)" in run.output


def test_an_allowed_leak_does_not_fail_the_run(scenario: Scenario) -> None:
    scenario.write("test_setters.py", STATE_SETTERS)
    run = scenario.run("--isolation-fail", checks="apps_registry", DJANGO_ISOLATION_ALLOW="apps_registry")
    assert run.returncode == 0, run.output
    assert run.findings == []
    assert run.report is not None and len(run.report["allowed"]) == 3


@pytest.mark.parametrize("scenario", ["pytest"], indirect=True)
def test_the_pytest_mark_allows_on_a_module(scenario: Scenario) -> None:
    scenario.write(
        "test_marked.py",
        """
        import pytest
        from django.db import models

        pytestmark = pytest.mark.isolation_allow("apps_registry")


        def test_defines_a_model():
            class Coupon(models.Model):
                class Meta:
                    app_label = "shop"
        """,
    )
    run = scenario.run(checks="apps_registry")
    assert run.returncode == 0, run.output
    assert run.findings == []
    assert run.report is not None and [a["pattern"] for a in run.report["allowed"]] == ["apps_registry"]


def test_run_patterns_that_matched_nothing_are_listed_at_the_end(scenario: Scenario) -> None:
    scenario.write("test_setters.py", STATE_SETTERS)
    run = scenario.run("--isolation-allow", "apps_registry:shop.voucher,environ:CI_*", checks="apps_registry")
    assert run.returncode == 0, run.output
    assert run.report["unused_allow"] == ["environ:CI_*"]  # type: ignore[index]
    assert "--isolation-allow pattern(s) that matched nothing: environ:CI_*" in run.output
