"""What ``django-isolation gate`` asks a ``pytest --collect-only`` run: the selected tests and the missing migrations.

Registered by ``--isolation-gate-probe PATH``. pytest-django has set Django up
by the end of collection, with the project's settings however they were given
(``--ds``, ini, environment), so the gate need not find them itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from django_isolation.gate import missing_migrations_now


class GateProbe:
    """Writes ``{"tests": [...], "missing_migrations": {...}}`` to its path once collection is done."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        data = {"tests": [item.nodeid for item in session.items], "missing_migrations": missing_migrations_now().to_json()}
        self.path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

