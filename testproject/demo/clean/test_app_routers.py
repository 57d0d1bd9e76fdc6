"""The clean twin of the polluter: the inline model lives in an isolated registry."""

from django.db import models
from django.test import TestCase
from django.test.utils import isolate_apps

from testproject.routers import AnalyticsRouter


class AnalyticsRouterTests(TestCase):
    @isolate_apps("testproject.analytics")
    def test_analytics_models_are_routed_to_the_analytics_database(self) -> None:
        class AnalyticsModel(models.Model):
            class Meta:
                app_label = "analytics"

        self.assertEqual(AnalyticsRouter().db_for_read(AnalyticsModel), "analytics")
