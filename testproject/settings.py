"""Settings for testproject.

SQLite by default; PostgreSQL (or any database) when ``DATABASE_URL`` is set,
e.g. ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/testproject``. Tests only
ever use the test database Django derives from it: ``test_testproject``, or
``test_testproject_<suffix>`` when ``TESTPROJECT_TEST_DB=<suffix>`` is set.
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
]

DATABASES = {"default": dj_database_url.config(default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Concurrent runs (the toolkit's tests, the benchmark) each name their own server-side test
# database; SQLite's stays in memory.
if os.environ.get("TESTPROJECT_TEST_DB") and "sqlite" not in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["TEST"] = {"NAME": f"test_testproject_{os.environ['TESTPROJECT_TEST_DB']}"}

TEST_RUNNER = "django_isolation.runner.IsolationRunner"

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
