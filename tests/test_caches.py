"""The caches check: what it catches, and the clean equivalents it stays quiet on."""

from __future__ import annotations

from runs import Scenario

CHECKS = "caches"

STALE_RATE = """
    from django.core.cache import cache
    from django.test import SimpleTestCase


    def exchange_rate():
        return cache.get_or_set("eur-usd", lambda: 1.08)


    class RateTests(SimpleTestCase):
        def test_a_caches_a_promotional_rate(self):
            cache.set("eur-usd", 1.5)
            cache.set("visits", 1)
            cache.incr("visits")

        def test_b_rate_comes_from_the_source(self):
            self.assertEqual(exchange_rate(), 1.08)
"""


def test_entries_left_in_the_cache_are_caught_with_key_value_and_line(scenario: Scenario) -> None:
    scenario.write("test_rates.py", STALE_RATE)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output  # the victim fails, as it would without the tool
    polluter = scenario.test_id("test_rates", "RateTests", "test_a_caches_a_promotional_rate")
    found = {f["details"]["key"]: f for f in run.findings}
    assert set(found) == {"eur-usd", "visits"}
    assert {f["test"] for f in run.findings} == {polluter}
    rate = found["eur-usd"]
    assert rate["summary"] == "cache entry 'eur-usd' added in cache 'default': 1.5"
    assert rate["details"] | {"expires": None} == {
        "change": "added",
        "cache": "default",
        "key": "eur-usd",
        "stored_key": ":1:eur-usd",
        "expires": None,
        "before": None,
        "after": "1.5",
        "scope": "test",
    }
    assert rate["origin"][0] == {
        "file": "scenario/test_rates.py",
        "line": 12,
        "function": "test_a_caches_a_promotional_rate",
    }
    assert found["visits"]["details"]["after"] == "2"  # incr is seen too
    assert "addCleanup(cache.clear)" in rate["advice"]
    victim = scenario.test_id("test_rates", "RateTests", "test_b_rate_comes_from_the_source")
    assert run.victims == {victim: [polluter]}


CLEAN_FORMS = """
    from django.core.cache import cache, caches
    from django.test import SimpleTestCase, override_settings

    OWN_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "own"}}


    class CleanTests(SimpleTestCase):
        def tearDown(self):
            caches["default"].delete("torn-down")

        def test_clear_in_cleanup(self):
            self.addCleanup(cache.clear)
            cache.set_many({"a": 1, "b": 2})

        def test_delete_its_key(self):
            cache.set("rate", 1.5)
            cache.delete("rate")

        def test_teardown_deletes(self):
            cache.add("torn-down", True)

        @override_settings(CACHES=OWN_CACHE)
        def test_own_cache_location(self):
            cache.set("rate", 1.5)
            self.assertEqual(caches["default"].get("rate"), 1.5)

        def test_expired_entry(self):
            cache.set("flash", "gone", timeout=0)

        def test_reads_see_a_cold_cache(self):
            self.assertIsNone(cache.get("rate"))
            self.assertIsNone(cache.get("a"))
"""


def test_clean_forms_are_quiet(scenario: Scenario) -> None:
    scenario.write("test_clean.py", CLEAN_FORMS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 6  # type: ignore[index]
    assert run.findings == []
