"""Fixtures for the toolkit's own tests; the run helpers live in ``runs.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import RUNNERS, Scenario


@pytest.fixture(params=RUNNERS)
def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> Scenario:
    """A scenario run once by ``manage.py test`` and once by pytest."""
    return Scenario(tmp_path, request.param)
