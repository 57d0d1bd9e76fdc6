"""Which models the running test resolved: the evidence that links a migrations failure to a leaked model.

``makemigrations`` and Django's migration state read every installed model
through ``apps.get_models()``; ``migrate``'s syncdb, ``post_migrate``'s
content types and django-test-migrations' ``Migrator`` read an app's models
through ``AppConfig.get_models()``. While ``apps_registry`` or
``migration_drift`` runs, both methods are wrapped at class level to note
that they were called (then they do exactly what Django's do); the checks'
own calls are not noted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final

from django.apps import AppConfig, apps
from django.apps.registry import Apps

_OWN_PACKAGE: Final = "django_isolation."


class ModelReads:
    """What the running test resolved: every installed model, or the models of some app labels."""

    def __init__(self) -> None:
        self.every_model = False
        self.labels: set[str] = set()
        self._users = 0
        self._quiet = 0
        self._originals: tuple[Any, Any] | None = None

    def start(self) -> None:
        self._users += 1
        if self._users == 1:
            self._originals = (Apps.__dict__["get_models"], AppConfig.__dict__["get_models"])
            Apps.get_models = self._registry_read(self._originals[0])
            AppConfig.get_models = self._app_read(self._originals[1])

    def stop(self) -> None:
        self._users -= 1
        if self._users == 0 and self._originals is not None:
            Apps.get_models, AppConfig.get_models = self._originals
            self._originals = None

    def test_started(self) -> None:
        self.every_model = False
        self.labels.clear()

    def read(self, label: str) -> str | None:
        """Evidence that the running test resolved the models of the installed app `label`, or None."""
        if label not in apps.app_configs:
            return None  # get_models() never returns a model of an app that is not installed
        if label in self.labels:
            return f"it resolved the models of app {label!r} (AppConfig.get_models(): migrate, a Migrator)"
        if self.every_model:
            return "it resolved every installed model (apps.get_models(): makemigrations, migration states)"
        return None

    def _registry_read(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def get_models(registry: Apps, *args: Any, **kwargs: Any) -> Any:
            if registry is not apps:
                return original(registry, *args, **kwargs)
            if not _ours(sys._getframe(1)):
                self.every_model = True
                return original(registry, *args, **kwargs)
            self._quiet += 1  # the app configs' reads inside the check's own call are the check's too
            try:
                return original(registry, *args, **kwargs)
            finally:
                self._quiet -= 1

        get_models.cache_clear = original.cache_clear  # type: ignore[attr-defined] # Apps.clear_cache() calls it
        return get_models

    def _app_read(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def get_models(app_config: AppConfig, *args: Any, **kwargs: Any) -> Any:
            if app_config.apps is apps and not self._quiet and not _ours(sys._getframe(1)):
                self.labels.add(app_config.label)
            return original(app_config, *args, **kwargs)

        return get_models


def _ours(frame: Any) -> bool:
    return str(frame.f_globals.get("__name__", "")).startswith(_OWN_PACKAGE)


MODEL_READS: Final = ModelReads()
