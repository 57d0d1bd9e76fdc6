"""The polluter: a model class defined inline with the real app label ``analytics``."""

from django.db import models
from django.test import TestCase

from testproject.routers import AnalyticsRouter


class AnalyticsRouterTests(TestCase):
    def test_analytics_models_are_routed_to_the_analytics_database(self) -> None:
        class AnalyticsModel(models.Model):
            class Meta:
                app_label = "analytics"

        self.assertEqual(AnalyticsRouter().db_for_read(AnalyticsModel), "analytics")
