from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "testproject.analytics"
    label = "analytics"
