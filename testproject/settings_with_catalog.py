"""testproject plus ``catalog``, an app whose data migration creates a row: for tests of baseline rows."""

from testproject.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "testproject.catalog"]  # noqa: F405
