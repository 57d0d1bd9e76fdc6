"""``apps_registry``: models added to, removed from or replaced in Django's app registry.

A model class defined in a test registers itself in ``django.apps.apps`` for
the life of the process (Flagsmith #7368): ``makemigrations --check`` then sees
phantom models and django-test-migrations' ``Migrator`` creates their tables.
Where each class was defined is captured when Django prepares it (the
``class_prepared`` signal), not guessed afterwards. Models of isolated
registries (``isolate_apps``, ``@pytest.mark.django_isolate_apps``) never touch
the global registry and so are never seen. A model class created by the
top-level code of a module imported for the first time is a normal late
import, not a leak.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections import Counter
from collections.abc import Hashable
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import django
from django.apps import AppConfig, apps
from django.db.models.base import ModelBase
from django.db.models.signals import class_prepared

from django_isolation import origin
from django_isolation.checks import Change, register
from django_isolation.checks._model_reads import MODEL_READS

if TYPE_CHECKING:
    from django.db.models import Model

_DJANGO_DIR: Final = os.path.dirname(django.__file__ or "")
ModelKey = tuple[str, str]
Registry = dict[ModelKey, "type[Model]"]

ADVICE_ADDED: Final = (
    "define the model inside django.test.utils.isolate_apps({app!r}) (decorator, context manager or "
    "class decorator) or @pytest.mark.django_isolate_apps({app!r}){label_note}; or move it to the models.py of "
    "a test app in INSTALLED_APPS"
)
ADVICE_NOT_INSTALLED: Final = (
    "app label {label!r} is not installed, so isolate_apps({label!r}) would raise ModuleNotFoundError: "
    "define the model inside django.test.utils.isolate_apps('<an app in INSTALLED_APPS>') with that app's "
    "label as Meta.app_label, or move it to the models.py of a test app in INSTALLED_APPS"
)
ADVICE_REMOVED: Final = (
    "a test that edits apps.all_models must restore it; use isolate_apps instead of unregistering models"
)
ADVICE_REPLACED: Final = (
    "the model class was redefined or its module reloaded; use isolate_apps for throwaway models and "
    "do not importlib.reload() a models module"
)


class Definition(NamedTuple):
    """Where a model class was defined, whether by a module's top level, and the how-manieth it was."""

    frames: tuple[origin.Frame, ...]
    module_level: bool
    serial: int
    nth_of_its_name: int = 1  # 2 for the second class object defined under the same qualified name


class ModelDefinitions:
    """Where each model class of the global registry was defined, recorded as Django prepares it."""

    def __init__(self) -> None:
        self.prepared = 0  # global model classes prepared since connect()
        self._names: Counter[str] = Counter()
        self._definitions: weakref.WeakKeyDictionary[type, Definition] = weakref.WeakKeyDictionary()

    def connect(self) -> None:
        class_prepared.connect(self._on_class_prepared, weak=False, dispatch_uid=id(self))

    def disconnect(self) -> None:
        class_prepared.disconnect(dispatch_uid=id(self))

    def get(self, model: type) -> Definition | None:
        return self._definitions.get(model)

    def first_import(self, model: type) -> bool:
        """Created by the top-level code of a module imported for the first time: a late import, not a leak."""
        definition = self._definitions.get(model)
        return definition is not None and definition.module_level

    def frames(self, model: type) -> tuple[origin.Frame, ...]:
        definition = self._definitions.get(model)
        return definition.frames if definition else ()

    def _on_class_prepared(self, sender: type[Model], **kwargs: Any) -> None:
        if sender._meta.apps is not apps:
            return  # isolate_apps and migration states (historical models) have registries of their own
        self.prepared += 1
        definer = class_statement_frame(sys._getframe(1))
        module_level = definer is not None and definer.f_code.co_name == "<module>"
        self._names[_qualified(sender)] += 1
        nth = self._names[_qualified(sender)]
        self._definitions[sender] = Definition(origin.user_frames(definer), module_level, self.prepared, nth)

    def describe(self, model: type) -> str:
        """The class's qualified name, and which object of that name it is when there were several."""
        definition = self._definitions.get(model)
        nth = definition.nth_of_its_name if definition else 1
        return _qualified(model) + (f" (class object #{nth} of that name)" if nth > 1 else "")


@register
class AppsRegistryCheck:
    """Models registered in, removed from or replaced in ``django.apps.apps``."""

    name = "apps_registry"

    def __init__(self) -> None:
        self._definitions = ModelDefinitions()

    def start(self) -> None:
        self._definitions.connect()
        MODEL_READS.start()

    def stop(self) -> None:
        self._definitions.disconnect()
        MODEL_READS.stop()

    def test_started(self) -> None:
        MODEL_READS.test_started()

    def touched(self, change: Change) -> str | None:
        """Evidence that the running test resolved the models of the leaked model's (installed) app."""
        return MODEL_READS.read(change.details["app_label"])

    def fingerprint(self, sweep: bool) -> Hashable:
        # Every model class Django creates passes class_prepared; removals and direct edits change a length.
        return self._definitions.prepared, tuple(map(len, apps.all_models.values()))

    def capture(self) -> Registry:
        return {(label, name): model for label, models in apps.all_models.items() for name, model in models.items()}

    def diff(self, baseline: Registry, current: Registry) -> list[Change]:
        changes = [self._removed(key, model) for key, model in baseline.items() if key not in current]
        for key, model in current.items():
            before = baseline.get(key)
            if before is None and not self._definitions.first_import(model):
                changes.append(self._added(key, model))
            elif before is not None and before is not model:
                changes.append(self._replaced(key, before, model))
        return changes

    def _added(self, key: ModelKey, model: type[Model]) -> Change:
        label, _ = key
        installed = label in apps.app_configs
        where = "installed app" if installed else "app label (not installed)"
        return Change(
            key=".".join(key),
            token=id(model),
            summary=f"model {label}.{model.__name__} added to the apps registry of {where} {label!r}",
            before=None,
            after=self._definitions.describe(model),
            advice=isolation_advice(label, model.__module__),
            details=_details(key, model, "added", installed),
            origin=self._definitions.frames(model),
            subjects=_subjects(model),
        )

    def _removed(self, key: ModelKey, model: type[Model]) -> Change:
        label, _ = key
        return Change(
            key=".".join(key),
            token=None,
            summary=f"model {label}.{model.__name__} removed from the apps registry",
            before=self._definitions.describe(model),
            after=None,
            advice=ADVICE_REMOVED,
            details=_details(key, model, "removed", label in apps.app_configs),
            subjects=_subjects(model),
        )

    def _replaced(self, key: ModelKey, before: type[Model], model: type[Model]) -> Change:
        label, _ = key
        return Change(
            key=".".join(key),
            token=id(model),
            summary=f"model {label}.{model.__name__} replaced in the apps registry by another class",
            before=self._definitions.describe(before),
            after=self._definitions.describe(model),
            advice=ADVICE_REPLACED,
            details=_details(key, model, "replaced", label in apps.app_configs),
            origin=self._definitions.frames(model),
            subjects=_subjects(model),
            cause=f"module_identity:reload:{model.__module__}" if _qualified(model) == _qualified(before) else None,
        )


def class_statement_frame(frame: FrameType | None) -> FrameType | None:
    """The frame that ran the class statement: above Django's and any model metaclass's frames."""
    frame = origin.definition_frame(frame, (_DJANGO_DIR,))
    while frame is not None and _in_model_metaclass(frame):
        frame = origin.definition_frame(frame.f_back, (_DJANGO_DIR,))
    return frame


def _in_model_metaclass(frame: FrameType) -> bool:
    """A method of a ModelBase subclass (django-mptt's, a project's own) creating a model class."""
    code = frame.f_code
    first = frame.f_locals.get(code.co_varnames[0]) if code.co_argcount else None
    return isinstance(first, type) and issubclass(first, ModelBase)


def isolation_advice(label: str, module: str) -> str:
    """How to keep a model of app `label` defined in `module` out of the registry: ``isolate_apps`` takes
    installed apps (their module paths), not labels; for a label that is not installed, the test's own app."""
    config = apps.app_configs.get(label) or _app_of(module)
    if config is None:
        return ADVICE_NOT_INSTALLED.format(label=label)
    note = "" if config.label == label else f" with Meta.app_label = {config.label!r} ({label!r} is not installed)"
    return ADVICE_ADDED.format(app=config.name, label_note=note)


def _app_of(module: str) -> AppConfig | None:
    """The installed app whose package holds `module` (a test module inside a test app)."""
    owners = [c for c in apps.get_app_configs() if module == c.name or module.startswith(c.name + ".")]
    return max(owners, key=lambda config: len(config.name), default=None)


def _subjects(model: type[Model]) -> tuple[str, ...]:
    """What a failure near the model names: its class and its table (``DuplicateTable: relation ... exists``)."""
    return (model.__name__, model._meta.db_table)


def _qualified(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def _details(key: ModelKey, model: type[Model], change: str, installed: bool) -> dict[str, Any]:
    label, model_name = key
    return {
        "change": change,
        "app_label": label,
        "model": model.__name__,
        "model_name": model_name,
        "installed_app": installed,
    }
