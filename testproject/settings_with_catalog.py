"""testproject plus ``catalog``, an app whose data migration creates a row: for tests of baseline rows."""

from testproject.settings import *

INSTALLED_APPS = [*INSTALLED_APPS, "testproject.catalog"]
