"""Settings for testproject.

SQLite by default; PostgreSQL (or any database) when ``DATABASE_URL`` is set,
e.g. ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/testproject``. Tests only
ever use the test databases Django derives from it: ``test_testproject`` and
``test_testproject_other`` (the ``other`` alias), or
``test_testproject_<alias>_<suffix>`` when ``TESTPROJECT_TEST_DB=<suffix>`` is set.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "testproject-insecure-key-for-tests-only"
DEBUG = False
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "testproject.shop",
    "testproject.analytics",
    "django_isolation",  # the isolation_gate management command
]

DATABASES = {"default": dj_database_url.config(default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# A second database for multi-database tests: the same server, its own database.
DATABASES["other"] = {**DATABASES["default"], "NAME": f"{DATABASES['default']['NAME']}_other"}
# Concurrent runs (the toolkit's tests, the benchmark) each name their own server-side test
# databases; SQLite's stay in memory.
if os.environ.get("TESTPROJECT_TEST_DB") and "sqlite" not in DATABASES["default"]["ENGINE"]:
    for alias, database in DATABASES.items():
        database["TEST"] = {"NAME": f"test_testproject_{alias}_{os.environ['TESTPROJECT_TEST_DB']}"}

TEST_RUNNER = "django_isolation.runner.IsolationRunner"

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
