from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "testproject.catalog"
    label = "catalog"
