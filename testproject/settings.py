"""Settings for testproject.

SQLite by default; PostgreSQL (or any database) when ``DATABASE_URL`` is set,
e.g. ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/testproject``. Tests only
ever use the test database Django derives from it (``test_testproject``).
"""

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

TEST_RUNNER = "django_isolation.runner.IsolationRunner"

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
