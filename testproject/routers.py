"""A database router, the code under test in the demo (as in Flagsmith's app routers)."""

from __future__ import annotations

from django.db.models import Model


class AnalyticsRouter:
    """Send the analytics app's models to the ``analytics`` database."""

    app_label = "analytics"

    def db_for_read(self, model: type[Model], **hints: object) -> str | None:
        return "analytics" if model._meta.app_label == self.app_label else None

    db_for_write = db_for_read
