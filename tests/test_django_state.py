"""The Django and test-tool state checks: translation, timezone, urlconf, mock_patches, time_freezing,
media_files and db_connections. Each: a leak it catches, and the clean equivalents it stays quiet on."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from runs import Run, Scenario, run

SETTINGS = "scenario.settings"
# A settings module of the scenario's own: a ROOT_URLCONF and a MEDIA_ROOT inside the scenario's directory.
SCENARIO_SETTINGS = """
    from pathlib import Path

    from testproject.settings import *  # noqa: F403

    ROOT_URLCONF = "scenario.urls"
    MEDIA_ROOT = str(Path(__file__).resolve().parent.parent / "media")
"""
URLS = """
    from django.http import HttpResponse
    from django.urls import path

    urlpatterns = [path("home/", lambda request: HttpResponse("home"), name="home")]
"""
OTHER_URLS = """
    from django.http import HttpResponse
    from django.urls import path

    urlpatterns = [path("elsewhere/", lambda request: HttpResponse("other"), name="home")]
"""


def _own_settings(scenario: Scenario) -> None:
    scenario.write("settings.py", SCENARIO_SETTINGS)
    scenario.write("urls.py", URLS)
    scenario.write("other_urls.py", OTHER_URLS)


def _ids(scenario: Scenario, module: str, cls: str, *tests: str) -> list[str]:
    return [scenario.test_id(module, cls, test) for test in tests]


def _quiet(scenario: Scenario, checks: str, tests: int, settings: str = "testproject.settings") -> None:
    run = scenario.run(checks=checks, settings=settings)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == tests, run.output  # type: ignore[index]
    assert run.findings == [], run.findings


# translation

LANGUAGE_LEFT = """
    from django.test import SimpleTestCase
    from django.utils import translation


    class LanguageTests(SimpleTestCase):
        def test_a_renders_in_french(self):
            translation.activate("fr")

        def test_b_language_is_the_default(self):
            self.assertEqual(translation.get_language(), "en-us")
"""


def test_translation_left_activated_is_caught(scenario: Scenario) -> None:
    scenario.write("test_language.py", LANGUAGE_LEFT)
    run = scenario.run(checks="translation")
    assert run.returncode == 1, run.output  # the victim fails, as it would without the tool
    polluter, victim = _ids(
        scenario, "test_language", "LanguageTests", "test_a_renders_in_french", "test_b_language_is_the_default"
    )
    [finding] = run.findings
    assert finding["test"] == polluter
    assert finding["summary"] == "translation: language 'fr' left activated for the thread"
    assert (finding["details"]["language"], finding["details"]["after"]) == ("fr", "'fr'")
    assert "translation.override" in finding["advice"]
    assert run.victims == {victim: [polluter]}


LANGUAGE_CLEAN = """
    from django.test import SimpleTestCase
    from django.utils import translation


    class LanguageTests(SimpleTestCase):
        def test_context_manager(self):
            with translation.override("fr"):
                self.assertEqual(translation.get_language(), "fr")

        @translation.override("nl")
        def test_decorator(self):
            self.assertEqual(translation.get_language(), "nl")

        def test_activate_with_cleanup(self):
            translation.activate("es")
            self.addCleanup(translation.deactivate)

        def test_activate_the_default_language(self):
            translation.activate("en-us")  # what get_language() answers anyway


    class SetUpTests(SimpleTestCase):
        def setUp(self):
            translation.activate("de")

        def tearDown(self):
            translation.deactivate()

        def test_in_german(self):
            self.assertEqual(translation.get_language(), "de")
"""


def test_translation_clean_forms_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_language.py", LANGUAGE_CLEAN)
    _quiet(scenario, "translation", tests=5)


# timezone

TIMEZONE_LEFT = """
    import os
    import time

    from django.test import SimpleTestCase
    from django.utils import timezone


    class ZoneTests(SimpleTestCase):
        def test_a_shows_paris_time(self):
            timezone.activate("Europe/Paris")

        def test_b_sets_the_process_zone(self):
            os.environ["TZ"] = "Asia/Tokyo"
            time.tzset()

        def test_c_current_zone_is_utc(self):
            self.assertEqual(timezone.get_current_timezone_name(), "UTC")
"""


def test_timezone_activated_and_process_zone_changed_are_caught(scenario: Scenario) -> None:
    scenario.write("test_zone.py", TIMEZONE_LEFT)
    run = scenario.run(checks="timezone")
    assert run.returncode == 1, run.output
    activator, tz_setter, victim = _ids(
        scenario,
        "test_zone",
        "ZoneTests",
        "test_a_shows_paris_time",
        "test_b_sets_the_process_zone",
        "test_c_current_zone_is_utc",
    )
    found = {f["details"]["change"]: f for f in run.findings}
    assert set(found) == {"activated", "process_timezone"}
    assert found["activated"]["test"] == activator
    assert found["activated"]["details"]["timezone"] == "Europe/Paris"
    assert "timezone.override" in found["activated"]["advice"]
    process = found["process_timezone"]
    assert process["test"] == tz_setter
    assert (process["details"]["tz_env"], process["details"]["applied"]) == ("Asia/Tokyo", True)
    assert process["summary"] == "TZ environment variable changed to 'Asia/Tokyo' and applied with time.tzset()"
    assert run.victims == {victim: [activator]}  # get_current_timezone_name() reads the active zone, not TZ


TIMEZONE_CLEAN = """
    import os
    import time
    from unittest import mock

    from django.test import SimpleTestCase, override_settings
    from django.utils import timezone


    class ZoneTests(SimpleTestCase):
        def test_override(self):
            with timezone.override("Europe/Paris"):
                self.assertEqual(timezone.get_current_timezone_name(), "Europe/Paris")

        @override_settings(TIME_ZONE="Asia/Tokyo")
        def test_override_settings_changes_tz_and_back(self):
            self.assertEqual(os.environ["TZ"], "Asia/Tokyo")

        def test_activate_with_cleanup(self):
            timezone.activate("America/New_York")
            self.addCleanup(timezone.deactivate)

        def test_patched_environ_with_tzset_undone(self):
            self.addCleanup(time.tzset)  # runs after the patch is gone: the process zone comes back
            with mock.patch.dict(os.environ, {"TZ": "Asia/Tokyo"}):
                time.tzset()
"""


def test_tz_seen_by_environ_and_timezone_is_one_finding(scenario: Scenario) -> None:
    scenario.write("test_zone.py", TIMEZONE_LEFT)
    run = scenario.run(checks="environ,timezone")
    tz_setter = _ids(scenario, "test_zone", "ZoneTests", "test_b_sets_the_process_zone")[0]
    [process] = [f for f in run.findings if f["test"] == tz_setter]
    assert process["check"] == "timezone"
    assert process["details"]["same_cause"] == ["environ: environment variable TZ changed from 'UTC' to 'Asia/Tokyo'"]


def test_timezone_clean_forms_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_zone.py", TIMEZONE_CLEAN)
    _quiet(scenario, "timezone", tests=4)


# urlconf

URLCONF_LEFT = """
    import importlib

    from django.test import SimpleTestCase
    from django.urls import reverse, set_urlconf

    from scenario import urls


    class UrlTests(SimpleTestCase):
        def test_a_switches_urlconf(self):
            set_urlconf("scenario.other_urls")
            self.assertEqual(reverse("home"), "/elsewhere/")

        def test_b_reloads_the_urls_module(self):
            set_urlconf(None)
            reverse("home")
            importlib.reload(urls)

        def test_c_home_is_home(self):
            self.assertEqual(reverse("home"), "/home/")
"""


def test_urlconf_override_and_stale_resolver_are_caught(scenario: Scenario) -> None:
    _own_settings(scenario)
    scenario.write("test_urls.py", URLCONF_LEFT)
    run = scenario.run(checks="urlconf", settings=SETTINGS)
    setter, reloader = _ids(
        scenario, "test_urls", "UrlTests", "test_a_switches_urlconf", "test_b_reloads_the_urls_module"
    )
    found = {f["details"]["change"]: f for f in run.findings}
    assert set(found) == {"override_left_set", "stale_resolver_cache"}, run.output
    override, stale = found["override_left_set"], found["stale_resolver_cache"]
    assert override["test"] == setter
    assert override["details"]["urlconf"] == "scenario.other_urls"
    assert "set_urlconf(None)" in override["advice"]
    assert override["details"].get("cleaned_by") == reloader  # test_b put it back: a state-setter and cleaner
    assert stale["test"] == reloader
    assert "old urlpatterns list" in stale["summary"]
    assert "clear_url_caches" in stale["advice"]
    assert run.returncode == 0, run.output  # the stale resolver still knows "home": no victim here


URLCONF_CLEAN = """
    import importlib

    from django.conf import settings
    from django.test import SimpleTestCase, override_settings
    from django.urls import clear_url_caches, reverse, set_urlconf

    from scenario import urls


    class UrlTests(SimpleTestCase):
        @override_settings(ROOT_URLCONF="scenario.other_urls")
        def test_override_settings(self):
            self.assertEqual(reverse("home"), "/elsewhere/")

        def test_set_urlconf_with_cleanup(self):
            self.addCleanup(set_urlconf, None)
            set_urlconf("scenario.other_urls")

        def test_client_request(self):
            self.assertEqual(self.client.get("/home/").content, b"home")

        def test_reload_and_clear(self):
            reverse("home")
            importlib.reload(urls)
            clear_url_caches()
            self.assertEqual(reverse("home"), "/home/")


    @override_settings(ROOT_URLCONF="scenario.other_urls")
    class OverriddenClassTests(SimpleTestCase):
        def test_a_request_that_raised_leaves_the_class_override_set(self):
            set_urlconf(settings.ROOT_URLCONF)  # what the handler does; a view that raised never reset it
"""


def test_urlconf_clean_forms_are_quiet(scenario: Scenario) -> None:
    _own_settings(scenario)
    scenario.write("test_urls.py", URLCONF_CLEAN)
    _quiet(scenario, "urlconf", tests=5, settings=SETTINGS)


# mock_patches

SERVICES = """
    import os

    def send_email(to):
        return f"sent to {to}"


    class Gateway:
        def charge(self, amount):
            return amount
"""

PATCHES_LEFT = """
    import os
    from unittest import mock

    from django.test import SimpleTestCase

    from scenario import services


    class PatchTests(SimpleTestCase):
        def test_a_starts_patches(self):
            mock.patch("scenario.services.send_email").start()
            mock.patch.object(services.Gateway, "charge", return_value=0).start()
            mock.patch.dict(os.environ, {"PAYMENTS": "off"}).start()

        def test_b_sends_real_email(self):
            self.assertEqual(services.send_email("a@example.com"), "sent to a@example.com")
"""


def test_started_patches_are_caught_with_the_start_line(scenario: Scenario) -> None:
    scenario.write("services.py", SERVICES)
    scenario.write("test_patches.py", PATCHES_LEFT)
    run = scenario.run(checks="mock_patches")
    assert run.returncode == 1, run.output
    polluter, victim = _ids(scenario, "test_patches", "PatchTests", "test_a_starts_patches", "test_b_sends_real_email")
    found = {f["details"]["target"]: f for f in run.findings}
    assert set(found) == {"scenario.services.send_email", "scenario.services.Gateway.charge", "patch.dict(os.environ)"}
    assert {f["test"] for f in run.findings} == {polluter}
    lines = {target: f["origin"][0]["line"] for target, f in found.items()}
    assert lines == {
        "scenario.services.send_email": 12,
        "scenario.services.Gateway.charge": 13,
        "patch.dict(os.environ)": 14,
    }
    first = found["scenario.services.send_email"]
    assert first["origin"][0]["file"] == "scenario/test_patches.py"
    assert first["summary"] == "mock patch of scenario.services.send_email started and never stopped"
    assert "addCleanup(patcher.stop)" in first["advice"]
    assert run.victims == {victim: [polluter]}


PATCHES_CLEAN = """
    import os
    from unittest import mock

    from django.test import SimpleTestCase

    from scenario import services


    class PatchTests(SimpleTestCase):
        def test_context_manager(self):
            with mock.patch("scenario.services.send_email"):
                pass

        @mock.patch.object(services.Gateway, "charge")
        def test_decorator(self, charge):
            pass

        def test_start_with_cleanup(self):
            patcher = mock.patch.dict(os.environ, {"PAYMENTS": "off"})
            patcher.start()
            self.addCleanup(patcher.stop)

        def test_stopall(self):
            self.addCleanup(mock.patch.stopall)
            mock.patch("scenario.services.send_email").start()
"""


def test_stopped_patches_are_quiet(scenario: Scenario) -> None:
    scenario.write("services.py", SERVICES)
    scenario.write("test_patches.py", PATCHES_CLEAN)
    _quiet(scenario, "mock_patches", tests=4)


# time_freezing

FREEZES_LEFT = """
    import datetime

    import freezegun
    import time_machine
    from django.test import SimpleTestCase


    class ClockTests(SimpleTestCase):
        def test_a_travels(self):
            time_machine.travel(datetime.datetime(2001, 2, 3, tzinfo=datetime.timezone.utc), tick=False).start()

        def test_b_freezes(self):
            freezegun.freeze_time("2020-01-01").start()

        def test_c_clock_is_real(self):
            self.assertGreater(datetime.date.today().year, 2024)
"""


def test_freezes_left_active_are_caught_with_the_start_line(scenario: Scenario) -> None:
    scenario.write("test_clock.py", FREEZES_LEFT)
    run = scenario.run(checks="time_freezing")
    assert run.returncode == 1, run.output
    traveller, freezer, victim = _ids(
        scenario, "test_clock", "ClockTests", "test_a_travels", "test_b_freezes", "test_c_clock_is_real"
    )
    found = {f["details"]["library"]: f for f in run.findings}
    assert set(found) == {"freezegun", "time-machine"}
    assert (found["time-machine"]["test"], found["freezegun"]["test"]) == (traveller, freezer)
    assert found["time-machine"]["details"]["frozen_at"] == "2001-02-03T00:00:00+00:00"
    assert found["freezegun"]["details"]["frozen_at"] == "2020-01-01T00:00:00"
    assert found["time-machine"]["origin"][0]["line"] == 11
    assert found["freezegun"]["origin"][0] == {
        "file": "scenario/test_clock.py",
        "line": 14,
        "function": "test_b_freezes",
    }
    assert found["freezegun"]["summary"] == "freezegun: time frozen at 2020-01-01T00:00:00 started and never stopped"
    assert run.victims == {victim: [traveller, freezer]}


FREEZES_CLEAN = """
    import datetime

    import freezegun
    import time_machine
    from django.test import SimpleTestCase


    class ClockTests(SimpleTestCase):
        @freezegun.freeze_time("2020-01-01")
        def test_decorator(self):
            self.assertEqual(datetime.date.today().year, 2020)

        def test_context_managers(self):
            with freezegun.freeze_time("2020-01-01"):
                pass
            with time_machine.travel(0):
                pass

        def test_start_with_cleanup(self):
            freezer = freezegun.freeze_time("2020-01-01")
            freezer.start()
            self.addCleanup(freezer.stop)

        @time_machine.travel(0, tick=False)
        def test_time_machine_decorator(self):
            self.assertEqual(datetime.date.today().year, 1970)
"""


def test_stopped_freezes_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_clock.py", FREEZES_CLEAN)
    _quiet(scenario, "time_freezing", tests=4)


def test_time_freezing_never_imports_the_libraries(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, "django")
    scenario.write(
        "test_plain.py",
        """
        import sys

        from django.test import SimpleTestCase


        class PlainTests(SimpleTestCase):
            def test_libraries_not_imported(self):
                self.assertNotIn("freezegun", sys.modules)
                self.assertNotIn("time_machine", sys.modules)
        """,
    )
    _quiet(scenario, "time_freezing", tests=1)


# media_files

MEDIA_LEFT = """
    from pathlib import Path

    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.test import SimpleTestCase


    class UploadTests(SimpleTestCase):
        def test_a_uploads_an_avatar(self):
            default_storage.save("avatars/alice.png", ContentFile(b"png"))

        def test_b_writes_and_deletes_directly(self):
            (Path(settings.MEDIA_ROOT) / "report.csv").write_text("a,b")
            (Path(settings.MEDIA_ROOT) / "keep.txt").unlink()

        def test_c_avatar_keeps_its_name(self):
            self.assertEqual(default_storage.save("avatars/alice.png", ContentFile(b"png")), "avatars/alice.png")
"""


def test_media_files_left_and_deleted_are_caught(scenario: Scenario) -> None:
    (scenario.root / "media").mkdir()
    (scenario.root / "media" / "keep.txt").write_text("kept")
    _own_settings(scenario)
    scenario.write("test_upload.py", MEDIA_LEFT)
    run = scenario.run(checks="media_files", settings=SETTINGS)
    assert run.returncode == 1, run.output
    uploader, writer, victim = _ids(
        scenario,
        "test_upload",
        "UploadTests",
        "test_a_uploads_an_avatar",
        "test_b_writes_and_deletes_directly",
        "test_c_avatar_keeps_its_name",
    )
    found = {f["details"]["path"]: f for f in run.findings}
    # The victim's own upload (alice_<random>.png) is a leak of its own.
    extra = {path for path in found if path.startswith("avatars/alice_")}
    assert set(found) - extra == {"avatars/alice.png", "report.csv", "keep.txt"}, found
    assert len(extra) == 1 and found[extra.pop()]["test"] == victim
    avatar = found["avatars/alice.png"]
    assert avatar["test"] == uploader
    assert avatar["summary"] == "file avatars/alice.png left in MEDIA_ROOT"
    assert avatar["origin"][0] == {
        "file": "scenario/test_upload.py",
        "line": 12,
        "function": "test_a_uploads_an_avatar",
    }
    assert (found["report.csv"]["test"], found["report.csv"]["details"]["change"]) == (writer, "added")
    assert (found["keep.txt"]["test"], found["keep.txt"]["details"]["change"]) == (writer, "deleted")
    assert "override_settings(MEDIA_ROOT" in avatar["advice"]
    assert run.victims == {victim: [uploader]}  # it saved avatars/alice.png; report.csv and keep.txt it never came near


MEDIA_CLEAN = """
    import shutil
    import tempfile
    from pathlib import Path

    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.test import SimpleTestCase, override_settings


    class UploadTests(SimpleTestCase):
        def test_temporary_media_root(self):
            root = tempfile.mkdtemp()
            self.addCleanup(shutil.rmtree, root)
            with override_settings(MEDIA_ROOT=root):
                default_storage.save("avatars/alice.png", ContentFile(b"png"))

        def test_save_then_delete(self):
            name = default_storage.save("avatars/bob.png", ContentFile(b"png"))
            self.addCleanup(default_storage.delete, name)

        def test_write_then_remove_directly(self):
            path = Path(settings.MEDIA_ROOT) / "tmp.csv"
            path.write_text("a,b")
            path.unlink()

        def test_reads_existing(self):
            self.assertEqual((Path(settings.MEDIA_ROOT) / "keep.txt").read_text(), "kept")
"""


def test_media_clean_forms_are_quiet(scenario: Scenario) -> None:
    (scenario.root / "media").mkdir()
    (scenario.root / "media" / "keep.txt").write_text("kept")
    _own_settings(scenario)
    scenario.write("test_upload.py", MEDIA_CLEAN)
    _quiet(scenario, "media_files", tests=4, settings=SETTINGS)


# db_connections

ATOMIC_LEFT = """
    from django.db import transaction
    from django.test import TestCase

    from testproject.shop.models import Product


    class LeakyTests(TestCase):
        def test_a_opens_an_atomic_block(self):
            transaction.atomic().__enter__()
            Product.objects.create(name="Mug", sku="MUG-1", price="3.50")

        def test_b_creates(self):
            Product.objects.create(name="Cup", sku="CUP-1", price="2.50")
"""


def test_atomic_block_left_open_in_a_testcase_is_caught(scenario: Scenario) -> None:
    scenario.write("test_tx.py", ATOMIC_LEFT)
    run = scenario.run(checks="db_connections")
    opener = scenario.test_id("test_tx", "LeakyTests", "test_a_opens_an_atomic_block")
    # Only the test: not the class whose atomic Django's teardown closed in its place.
    [finding] = run.findings
    assert finding["test"] == opener, run.output
    assert finding["details"]["change"] == "atomic_left_open"
    assert finding["summary"] == "connection 'default' left inside an atomic block (transaction depth 2)"
    assert "transaction.atomic()" in finding["advice"]


AUTOCOMMIT_LEFT = """
    from django.db import connection, transaction
    from django.test import SimpleTestCase


    # Not a TransactionTestCase: it closes its connections after each test, which resets autocommit.
    class AutocommitTests(SimpleTestCase):
        databases = {"default"}

        def test_a_turns_autocommit_off(self):
            transaction.set_autocommit(False)

        def test_b_autocommit_is_on(self):
            self.assertTrue(connection.get_autocommit())
"""


def test_autocommit_left_off_is_caught(tmp_path: Path) -> None:
    # manage.py test only: pytest-django sets up no test database for a SimpleTestCase, and a
    # TransactionTestCase (or pytest's transactional_db) closes its connections, which puts autocommit back.
    scenario = Scenario(tmp_path, "django")
    scenario.write("test_tx.py", AUTOCOMMIT_LEFT)
    run = scenario.run(checks="db_connections")
    assert run.returncode == 1, run.output
    switcher, victim = _ids(
        scenario, "test_tx", "AutocommitTests", "test_a_turns_autocommit_off", "test_b_autocommit_is_on"
    )
    [finding] = run.findings
    assert finding["test"] == switcher
    assert finding["summary"] == "connection 'default' left with autocommit off outside any atomic block"
    assert "set_autocommit, True" in finding["advice"]
    assert run.victims == {victim: [switcher]}


TRANSACTION_CLEAN = """
    from django.db import IntegrityError, transaction
    from django.test import TestCase, TransactionTestCase

    from testproject.shop.models import Product


    class AtomicTests(TestCase):
        @classmethod
        def setUpTestData(cls):
            Product.objects.create(name="Mug", sku="MUG-1", price="3.50")

        def test_nested_atomic(self):
            with transaction.atomic():
                with transaction.atomic():
                    Product.objects.create(name="Cup", sku="CUP-1", price="2.50")

        def test_error_inside_a_savepoint(self):
            with self.assertRaises(IntegrityError), transaction.atomic():
                Product.objects.create(name="Mug", sku="MUG-1", price="3.50")
            self.assertEqual(Product.objects.count(), 1)


    class AutocommitTests(TransactionTestCase):
        def test_autocommit_off_with_cleanup(self):
            self.addCleanup(transaction.set_autocommit, True)
            transaction.set_autocommit(False)

        def test_enter_and_exit_by_hand(self):
            block = transaction.atomic()
            block.__enter__()
            self.addCleanup(block.__exit__, None, None, None)
"""


def test_closed_transactions_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_tx.py", TRANSACTION_CLEAN)
    _quiet(scenario, "db_connections", tests=4)


CONFIGURED_IN_CONFTEST = """
    from django.conf import settings


    def pytest_configure(config):
        settings.configure(  # as django-rest-framework's conftest: TIME_ZONE is Django's default, TZ is never set
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
            USE_TZ=True,
        )
"""

OVERRIDDEN_ZONE = """
    from django.test import SimpleTestCase, override_settings


    class ZoneTests(SimpleTestCase):
        @override_settings(TIME_ZONE="Asia/Tokyo")
        def test_in_tokyo(self):
            pass
"""


def _run_configured_in_conftest(tmp_path: Path, tests: str) -> Run:
    """pytest with the timezone check on `tests`, settings from settings.configure(), TZ unset at the start."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFIGURED_IN_CONFTEST))
    (tmp_path / "test_zone.py").write_text(textwrap.dedent(tests))
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-n", "0"]
    command += ["--isolation-checks", "timezone", "--isolation-report", str(report), "test_zone.py"]
    return run(command, tmp_path, report, TZ="")


def test_tz_left_by_an_ending_time_zone_override_says_what_really_left_it(tmp_path: Path) -> None:
    done = _run_configured_in_conftest(tmp_path, OVERRIDDEN_ZONE)
    assert done.returncode == 0, done.output
    [finding] = done.findings
    assert finding["details"]["tz_env"] == "America/Chicago"
    assert finding["advice"].startswith("an override_settings(TIME_ZONE=...) ended: Django then sets TZ")
    assert "settings.configure() does not set TZ" in finding["advice"]


OVERRIDDEN_ZONE_TWICE = OVERRIDDEN_ZONE + """

    @override_settings(TIME_ZONE="Europe/Paris")
    class ParisTests(SimpleTestCase):
        def test_in_paris(self):
            pass
"""


def test_a_later_class_that_puts_tz_back_to_what_an_earlier_one_left_is_no_second_finding(tmp_path: Path) -> None:
    """The second override sets TZ to Paris and, ending, back to Chicago: before == after, so not a polluter."""
    done = _run_configured_in_conftest(tmp_path, OVERRIDDEN_ZONE_TWICE)
    assert done.returncode == 0, done.output
    assert [f["test"] for f in done.findings] == ["test_zone.py::ZoneTests::test_in_tokyo"]
