"""The django_settings check: what it catches, and the clean equivalents it stays quiet on."""

from __future__ import annotations

from pathlib import Path

from runs import Scenario

CHECKS = "django_settings"

DIRECT_WRITES = """
    from django.conf import settings
    from django.test import SimpleTestCase


    class FeatureTests(SimpleTestCase):
        def test_a_turns_the_feature_on(self):
            settings.FEATURE_CHECKOUT_V2 = True
            settings.TIME_ZONE = "Europe/Paris"
            del settings.USE_TZ

        def test_b_checkout_defaults_to_v1(self):
            self.assertFalse(getattr(settings, "FEATURE_CHECKOUT_V2", False))
"""


def test_direct_writes_are_caught_with_values_and_the_line(scenario: Scenario) -> None:
    scenario.write("test_feature.py", DIRECT_WRITES)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output  # the victim fails, as it would without the tool
    polluter = scenario.test_id("test_feature", "FeatureTests", "test_a_turns_the_feature_on")
    found = {f["details"]["setting"]: f for f in run.findings}
    assert set(found) == {"FEATURE_CHECKOUT_V2", "TIME_ZONE", "USE_TZ"}
    assert {f["test"] for f in run.findings} == {polluter}
    flag, zone, tz = found["FEATURE_CHECKOUT_V2"], found["TIME_ZONE"], found["USE_TZ"]
    assert (flag["details"]["change"], flag["details"]["before"], flag["details"]["after"]) == ("added", None, "True")
    assert (zone["details"]["before"], zone["details"]["after"]) == ("'UTC'", "'Europe/Paris'")
    assert (tz["details"]["change"], tz["details"]["before"], tz["details"]["after"]) == ("deleted", "True", None)
    assert flag["origin"][0] == {
        "file": "scenario/test_feature.py",
        "line": 8,
        "function": "test_a_turns_the_feature_on",
    }
    assert tz["origin"][0]["line"] == 10
    assert "override_settings" in flag["advice"]
    victim = scenario.test_id("test_feature", "FeatureTests", "test_b_checkout_defaults_to_v1")
    assert run.victims == {victim: [polluter]}


OVERRIDE_LEFT_ENABLED = """
    from django.conf import settings
    from django.test import SimpleTestCase, override_settings


    class LeftEnabledTests(SimpleTestCase):
        def test_enables_an_override(self):
            override_settings(PAGE_SIZE=5).enable()
            self.assertEqual(settings.PAGE_SIZE, 5)
"""


def test_override_enabled_and_never_disabled_is_caught(scenario: Scenario) -> None:
    scenario.write("test_left.py", OVERRIDE_LEFT_ENABLED)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings  # one cause: the override, with the setting it holds
    assert finding["details"]["change"] == "override_left_enabled"
    assert finding["test"] == scenario.test_id("test_left", "LeftEnabledTests", "test_enables_an_override")
    assert finding["details"]["same_cause"] == ["django_settings: setting PAGE_SIZE added to 5"]
    assert finding["origin"][0]["line"] == 8, finding
    assert "disable()" in finding["advice"]


CLEAN_FORMS = """
    from unittest import mock

    from django.conf import settings
    from django.test import SimpleTestCase, modify_settings, override_settings


    @override_settings(CLASS_LEVEL=1)
    class CleanTests(SimpleTestCase):
        @override_settings(TIME_ZONE="Asia/Tokyo")
        def test_decorator(self):
            self.assertEqual(settings.TIME_ZONE, "Asia/Tokyo")

        def test_context_manager_and_writes_inside_it(self):
            with override_settings(FEATURE=True):
                settings.FEATURE = False  # lands on the override, which goes away
                settings.OTHER = 1

        def test_enable_with_cleanup(self):
            override = override_settings(PAGE_SIZE=5)
            override.enable()
            self.addCleanup(override.disable)

        @modify_settings(ALLOWED_HOSTS={"append": "example.com"})
        def test_modify_settings(self):
            self.assertIn("example.com", settings.ALLOWED_HOSTS)

        def test_mock_patch_context_manager(self):
            with mock.patch.object(settings, "TIME_ZONE", "Asia/Tokyo"):
                self.assertEqual(settings.TIME_ZONE, "Asia/Tokyo")

        def test_assign_and_restore_in_cleanup(self):
            old = settings.TIME_ZONE
            self.addCleanup(setattr, settings, "TIME_ZONE", old)
            settings.TIME_ZONE = "Asia/Tokyo"
"""


def test_clean_forms_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_clean.py", CLEAN_FORMS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 6  # type: ignore[index]
    assert run.findings == []


def test_pytest_django_settings_fixture_and_monkeypatch_are_quiet(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write(
        "test_fixture.py",
        """
        from django.conf import settings as django_settings


        def test_settings_fixture(settings):
            settings.TIME_ZONE = "Asia/Tokyo"
            settings.FEATURE = True
            del settings.USE_TZ


        def test_monkeypatch(monkeypatch):
            monkeypatch.setattr(django_settings, "TIME_ZONE", "Asia/Tokyo")
            monkeypatch.setattr(django_settings, "FEATURE", True, raising=False)


        def test_reads(settings):
            assert settings.TIME_ZONE == "UTC"
            assert not hasattr(settings, "FEATURE")
        """,
    )
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert "3 passed" in run.output
    assert run.findings == []


DEPRECATED_SETTING = """
    import warnings

    import django
    from django.conf import settings
    from django.test import SimpleTestCase


    class DeprecatedSettingTests(SimpleTestCase):
        def test_the_runner_set_up_mail_without_a_warning(self):
            pass  # the runner's setup_test_environment() wrote EMAIL_BACKEND through the hook

        def test_the_projects_own_write_still_warns(self):
            if django.VERSION < (6, 1):
                self.skipTest("EMAIL_BACKEND is deprecated from Django 6.1")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
            self.assertEqual([w.filename for w in caught], [__file__])
"""


def test_the_hook_keeps_djangos_deprecation_warnings_where_django_puts_them(scenario: Scenario) -> None:
    """Django's own settings writes stay silent through the hook (even with -W error); the project's still warn."""
    scenario.write("test_deprecated.py", DEPRECATED_SETTING)
    errors = "error::DeprecationWarning,error::PendingDeprecationWarning"
    run = scenario.run(checks=CHECKS, PYTHONWARNINGS=errors)
    assert run.returncode == 0, run.output


SESSION_SETTINGS = """
    import pytest
    from django.conf import settings


    @pytest.fixture(scope="session", autouse=True)
    def feature_flags():
        settings.FEATURE = {restore}
        yield
        if {restore}:
            del settings.FEATURE


    @pytest.mark.django_db
    def test_db():
        from django.contrib.auth.models import User

        assert User.objects.count() == 0
"""


def test_pytest_djangos_no_migrations_set_up_is_baseline_and_fail_mode_stays_green(tmp_path: Path) -> None:
    """pytest-django's django_db_setup writes MIGRATION_MODULES under --no-migrations: the framework's own set-up."""
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_session.py", SESSION_SETTINGS.format(restore=True))
    run = scenario.run("--no-migrations", "--isolation-fail", checks=CHECKS)
    assert run.returncode == 0, run.output
    assert run.findings == []


def test_a_projects_session_fixture_writing_a_setting_is_still_reported(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_session.py", SESSION_SETTINGS.format(restore=False))
    run = scenario.run("--no-migrations", checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["summary"].startswith("setting FEATURE")
    assert (finding["details"]["scope"], finding["details"]["fixture"]) == ("session", "feature_flags")


MIXED = """
    from django.test import override_settings


    @override_settings(FEATURE_A=True)
    def test_mixes_the_decorator_and_the_fixture(settings):
        settings.FEATURE_B = True


    def test_feature_a_is_off():
        from django.conf import settings

        assert not hasattr(settings, "FEATURE_A")
"""


def test_override_settings_mixed_with_the_settings_fixture_is_one_finding_that_says_so(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "pytest")
    scenario.write("test_mixed.py", MIXED)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output  # the override stays enabled: the next test sees FEATURE_A
    [finding] = run.findings
    assert finding["details"]["change"] == "override_left_enabled"
    assert finding["advice"].startswith("override_settings (a decorator or context manager) and pytest-django's")
    assert finding["details"]["same_cause"] == ["django_settings: setting FEATURE_A added to True"]
    assert "same cause: django_settings: setting FEATURE_A added to True" in run.output
    assert run.victims == {scenario.test_id("test_mixed", "test_feature_a_is_off"): [finding["test"]]}
