"""``migration_drift``: changes ``makemigrations --check`` finds now that it did not find when the run started.

A model class a test defines with the label of an installed app (Flagsmith
#7368), a field added to a model in place, Meta options edited: afterwards
``makemigrations --check`` fails in that process, and django-test-migrations'
``Migrator`` creates tables nobody migrated. Drift is computed the way the
command does (``MigrationLoader(None, ignore_no_migrations=True)``, the
command's autodetector, a non-interactive questioner) without writing a file
or touching a database. Operations already pending when the run started are
not findings.

The autodetector runs only when the fingerprint moved. At each check point it
is the number of global model classes Django prepared, the size of every app
label's registry and, only when Django made a model field since the last check
point (a field added in place is one), the summed sizes of every model's field
lists. Where a module ends (a sweep), each model's field objects, their
attributes, indexes, constraints and Meta options are compared with copies
kept at the start. The start's own migration state is built from those copies
only the first time something moved: a clean run never runs the autodetector.
"""

from __future__ import annotations

import copy
import functools
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from operator import attrgetter, is_not
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from django.apps import apps
from django.core.management import BaseCommand, get_commands, load_command_class
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.utils import resolve_relation
from django.db.models import Field

from django_isolation import origin
from django_isolation.checks import Change, register
from django_isolation.checks._model_reads import MODEL_READS
from django_isolation.checks.apps_registry import ModelDefinitions

if TYPE_CHECKING:
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations.base import Operation
    from django.db.models import Model

ModelKey = tuple[str, str]
MAX_OPERATIONS_SHOWN: Final = 5
ADVICE_REGISTRY: Final = (
    "define test models inside django.test.utils.isolate_apps({app!r}) or "
    "@pytest.mark.django_isolate_apps({app!r}) (see the apps_registry finding for {keys})"
)
ADVICE_IN_PLACE: Final = (
    "a model of {label!r} was changed in place (a field added with contribute_to_class or altered, Meta options "
    "edited): make such changes on a model defined inside isolate_apps, or undo them in the same test"
)
ADVICE_IMPORTED: Final = (
    "{keys} came from a module first imported during the run, so only the processes that import it see "
    "them: define them inside isolate_apps, or in a models module every run imports"
)
ADVICE_REAL: Final = "or run makemigrations if the change is real"


class _Snapshot(NamedTuple):
    """A model as migrations saw it at the baseline: its field objects, their attributes, its Meta options.

    Copies are shallow: a field attribute replaced is kept, a list mutated in place is not.
    """

    model: type[Model]
    local_fields: tuple[Any, ...]
    many_to_many: tuple[Any, ...]
    fields: tuple[Any, ...]  # both
    field_attrs: tuple[dict[str, Any], ...]
    field_values: tuple[tuple[Any, ...], ...]  # the values of field_attrs, for a quick comparison
    original_attrs: dict[str, Any]
    indexes: tuple[Any, ...]
    constraints: tuple[Any, ...]
    seen: list[Any]  # [copies of the fields' namespaces at the last look, whether the fields were kept then]

    @classmethod
    def of(cls, model: type[Model]) -> _Snapshot:
        meta = model._meta
        local_fields, many_to_many = tuple(meta.local_fields), tuple(meta.local_many_to_many)
        fields = local_fields + many_to_many
        attrs = tuple(vars(field).copy() for field in fields)  # copy(): several times faster than dict()
        values = tuple(tuple(saved.values()) for saved in attrs)
        return cls(
            model, local_fields, many_to_many, fields, attrs, values,
            dict(meta.original_attrs), tuple(meta.indexes), tuple(meta.constraints), [None, True],
        )  # fmt: skip

    def edited(self) -> bool:
        """Whether anything migrations read from the model differs from the baseline."""
        meta = self.model._meta
        return (
            _differ(meta.local_fields, self.local_fields)
            or _differ(meta.local_many_to_many, self.many_to_many)
            or _differ(meta.indexes, self.indexes)
            or _differ(meta.constraints, self.constraints)
            or meta.original_attrs != self.original_attrs
            or not self._fields_kept()
        )

    def _fields_kept(self) -> bool:
        """Whether every field keeps its baseline attributes; answered again only when a field's namespace moved
        since the last look (one comparison in C)."""
        namespaces = list(map(vars, self.fields))
        if _equal(namespaces, self.seen[0]):
            return bool(self.seen[1])
        kept = all(map(_kept, self.fields, self.field_values))
        self.seen[:] = [[namespace.copy() for namespace in namespaces], kept]
        return kept

    def model_state(self) -> ModelState:
        """The ModelState ``makemigrations`` built for this model at the baseline."""
        return ModelState.from_model(_AsAtBaseline(self))


class _AsAtBaseline:
    """Stands for a model in ``ModelState.from_model``: its baseline fields and options, anything else live."""

    def __init__(self, snapshot: _Snapshot) -> None:
        self._model = snapshot.model
        self._meta = _OptionsAtBaseline(snapshot)

    def __getattr__(self, name: str) -> Any:  # __bases__, __mro__, the managers
        return getattr(self._model, name)


class _OptionsAtBaseline:
    """A model's ``_meta`` with the field lists and Meta options it had at the baseline."""

    def __init__(self, snapshot: _Snapshot) -> None:
        self._options = snapshot.model._meta
        restored = [_field_at_baseline(field, attrs) for field, attrs in zip(snapshot.fields, snapshot.field_attrs)]
        self.local_fields = restored[: len(snapshot.local_fields)]
        self.local_many_to_many = restored[len(snapshot.local_fields) :]
        self.original_attrs = snapshot.original_attrs
        self.indexes = list(snapshot.indexes)
        self.constraints = list(snapshot.constraints)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._options, name)


def _field_at_baseline(field: Any, attrs: dict[str, Any]) -> Any:
    """A copy of `field` with the attributes it had at the baseline (a field's copy is its ``__dict__``)."""
    restored = copy.copy(field)
    restored.__dict__ = dict(attrs)
    return restored


def _kept(field: Any, saved: tuple[Any, ...]) -> bool:
    """Whether the attributes `field` had at the baseline still hold the same (or equal) values.

    Compared in order, as a dict keeps them (attributes added since, such as cached properties, come last):
    twice as fast as looking each one up, at the price of seeing a removed and re-added attribute as changed.
    """
    return tuple(vars(field).values())[: len(saved)] == saved


def _equal(now: Any, copies: Any) -> bool:
    """``now == copies``, in C (identical values first); False where a value's ``__eq__`` raises."""
    try:
        return bool(now == copies)
    except Exception:  # noqa: BLE001 - an attribute value whose __eq__ raises: look in detail
        return False


_META_PARTS: Final = attrgetter(
    "_meta.local_fields", "_meta.local_many_to_many", "_meta.indexes", "_meta.constraints", "_meta.original_attrs"
)
"""What :meth:`_Snapshot.edited` reads of a model's options, read in C."""


def _copied(parts: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(part.copy() if isinstance(part, (list, dict)) else part for part in parts)


def _differ(now: Sequence[Any], then: tuple[Any, ...]) -> bool:
    return len(now) != len(then) or any(map(is_not, now, then))


@functools.cache
def _questioner_class() -> type[Any]:
    """makemigrations' non-interactive questioner, except that it answers where that one exits the process.

    Made on first use: the migration autodetector's modules are imported only when drift is computed.
    """
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner

    class Questioner(NonInteractiveMigrationQuestioner):  # type: ignore[misc]
        def ask_not_null_addition(self, field_name: str, model_name: str) -> None:
            return None  # what the base questioner answers: a default of None

        def ask_auto_now_add_addition(self, field_name: str, model_name: str) -> None:
            return None

    return Questioner


class _Drift(NamedTuple):
    """What makemigrations would write for one app that it would not have written at the start."""

    operations: tuple[str, ...]
    pending: tuple[str, ...]  # everything it would write for the app now
    before: tuple[str, ...]  # what it would have written at the start
    explained_by: tuple[str, ...]  # apps_registry keys of the registry changes the operations name
    imported: tuple[str, ...]  # models the operations name that a module imported for the first time defined
    in_place: bool  # some operations name no model the registry changed: a model was edited in place
    frames: tuple[origin.Frame, ...]  # where the latest model the operations name was defined


@register
class MigrationDriftCheck:
    """Operations ``makemigrations --check`` would now write that it would not have written at the start."""

    name = "migration_drift"

    def __init__(self) -> None:
        self._definitions = ModelDefinitions()
        self._snapshots: tuple[_Snapshot, ...] = ()
        self._baseline_registry: dict[ModelKey, type[Model]] = {}
        self._baseline_sizes = 0
        self._registry: Hashable = None
        self._sized: list[Any] = []  # the field lists whose lengths the fingerprint sums
        self._sizes = 0
        self._fields_made: tuple[int, int] = (0, 0)  # Django's field creation counters when last summed
        self._edited: tuple[str, ...] = ()  # models edited in place, as of the last sweep
        self._classes: tuple[int, ...] = ()  # the registry's classes, as of the last sweep
        self._models: list[type[Model]] = []  # the baseline models, and their fields
        self._fields: list[Any] = []
        self._seen: tuple[list[Any], list[dict[str, Any]]] | None = None  # copies of what the last sweep read
        self._detector: _Detector | None = None
        self._before: dict[str, list[Operation]] = {}  # per app: what makemigrations would have written at the start
        self._drifts: dict[str, tuple[Hashable, _Drift | None]] = {}  # per app: its signature, its drift then

    def start(self) -> None:
        self._definitions.connect()
        MODEL_READS.start()
        models = apps.get_models(include_swapped=True)
        self._snapshots = tuple(map(_Snapshot.of, models))
        self._models = [snapshot.model for snapshot in self._snapshots]
        self._fields = [field for snapshot in self._snapshots for field in snapshot.fields]
        self._baseline_registry = _registry()
        self._registry = self._registry_fingerprint()
        self._sized = _sized(models)
        self._baseline_sizes = self._sizes = sum(map(len, self._sized))
        self._fields_made = _fields_made()

    def stop(self) -> None:
        self._definitions.disconnect()
        MODEL_READS.stop()

    def test_started(self) -> None:
        MODEL_READS.test_started()

    def touched(self, change: Change) -> str | None:
        """Evidence that the running test resolved the models of the drifting app (makemigrations, a Migrator)."""
        return MODEL_READS.read(change.details["app_label"])

    def fingerprint(self, sweep: bool) -> Hashable:
        registry = self._definitions.prepared, tuple(map(len, apps.all_models.values()))  # inline: every point
        moved = registry != self._registry
        if moved:  # models came or went: watch the ones there are now
            self._registry = registry
            self._sized = _sized(apps.get_models(include_swapped=True))
        fields_made = Field.creation_counter, Field.auto_creation_counter  # _fields_made(), inline
        # A field added in place is a field made since (a clean test rarely makes one): only then sum the sizes.
        if moved or sweep or fields_made != self._fields_made:
            self._fields_made = fields_made
            self._sizes = sum(map(len, self._sized))
        if sweep:  # also what the sizes cannot show: attributes, options, a class swapped for another
            if self._moved_since_last_sweep():
                self._edited = tuple(s.model._meta.label_lower for s in self._snapshots if s.edited())
            self._classes = tuple(map(id, _registry().values()))
        return registry, self._sizes, self._edited, self._classes

    def capture(self) -> dict[str, _Drift]:
        if self._unchanged():
            return {}  # the baseline itself, or a test that put everything back: no need to ask the autodetector
        if self._detector is None:  # the first time anything moved: read the migration files once
            self._detector = _Detector()
        registry_changes = self._registry_changes()
        drifts = {}
        for label in self._changed_labels(registry_changes):
            if not self._detector.writes_for(label):
                continue  # makemigrations writes nothing for it (migrations disabled, --no-migrations, no app)
            signature = _signature(label, self._edited)
            known = self._drifts.get(label)
            if known is None or known[0] != signature:  # only the apps whose models moved since the last capture
                known = self._drifts[label] = (signature, self._app_drift(label, registry_changes))
            if known[1] is not None:
                drifts[label] = known[1]
        return drifts

    def diff(self, baseline: dict[str, _Drift], current: dict[str, _Drift]) -> list[Change]:
        # A capture holds only what differs from the start (the start's own capture is empty): `baseline` is {}.
        return [_change(label, drift) for label, drift in current.items()]

    def _moved_since_last_sweep(self) -> bool:
        """Whether any baseline model's options or fields' attributes moved since the last sweep: two comparisons in
        C, so that a sweep walks the models in Python only after an edit (or an equal object put in place of one)."""
        parts, namespaces = list(map(_META_PARTS, self._models)), list(map(vars, self._fields))
        if self._seen is not None and _equal((parts, namespaces), self._seen):
            return False
        self._seen = list(map(_copied, parts)), [namespace.copy() for namespace in namespaces]
        return True

    def _registry_fingerprint(self) -> Hashable:
        return self._definitions.prepared, tuple(map(len, apps.all_models.values()))

    def _unchanged(self) -> bool:
        """Nothing the fingerprint sees differs from the baseline: the same classes, sizes, no edited model."""
        return not self._edited and self._sizes == self._baseline_sizes and _registry() == self._baseline_registry

    def _changed_labels(self, registry_changes: dict[ModelKey, str]) -> list[str]:
        """The app labels whose models were added, replaced, removed or edited since the baseline."""
        labels = dict.fromkeys(label for label, _ in registry_changes)
        edited = set(self._edited)
        for snapshot in self._snapshots:
            meta = snapshot.model._meta
            resized = len(meta.local_fields) != len(snapshot.local_fields) or len(meta.local_many_to_many) != len(
                snapshot.many_to_many
            )
            if resized or meta.label_lower in edited:
                labels[meta.app_label] = None
        return list(labels)

    def _app_drift(self, label: str, registry_changes: dict[ModelKey, str]) -> _Drift | None:
        """What makemigrations would newly write for `label`, from the models of that app and those they reach."""
        assert self._detector is not None
        before = self._before.get(label)
        if before is None:  # what was pending for the app at the start
            at_start = {_key(s.model): s for s in self._snapshots}
            models = {key: snapshot.model for key, snapshot in at_start.items()}
            before = self._before[label] = self._detector.operations(
                label, models, lambda key: at_start[key].model_state()
            )
        now = _installed_models()
        operations = self._detector.operations(label, now, lambda key: ModelState.from_model(now[key]))
        new = _new_operations(operations, before)
        return self._drift(label, new, operations, before, registry_changes) if new else None

    def _registry_changes(self) -> dict[ModelKey, str]:
        """Models added, replaced or removed in the registry, each ``"registry"`` or ``"import"``.

        ``"import"``: added by a module's first import, on which apps_registry is quiet; ``"registry"``: the
        others, which are its findings.
        """
        current = _registry()
        changed = {key: "registry" for key in self._baseline_registry if key not in current}
        for key, model in current.items():
            before = self._baseline_registry.get(key)
            if before is not model:
                changed[key] = "import" if before is None and self._definitions.first_import(model) else "registry"
        return changed

    def _drift(
        self,
        label: str,
        new: list[Operation],
        operations: list[Operation],
        before: list[Operation],
        registry_changes: dict[ModelKey, str],
    ) -> _Drift:
        named = [(label, _model_name(operation)) for operation in new]
        explained = [key for key in dict.fromkeys(named) if registry_changes.get(key) == "registry"]
        imported = [key for key in dict.fromkeys(named) if registry_changes.get(key) == "import"]
        models = [apps.all_models[key[0]].get(key[1]) for key in explained + imported]
        definitions = [d for d in (self._definitions.get(m) for m in models if m is not None) if d is not None]
        # Where the latest of them was defined: a later test's drift holds the models of earlier ones too.
        frames = max(definitions, key=lambda d: d.serial).frames if definitions else ()
        return _Drift(
            operations=tuple(map(_describe, new)),
            pending=tuple(map(_describe, operations)),
            before=tuple(map(_describe, before)),
            explained_by=tuple(".".join(key) for key in explained),
            imported=tuple(".".join(key) for key in imported),
            in_place=any(key not in registry_changes for key in named),
            frames=frames,
        )


def missing_migrations() -> dict[str, list[str]]:
    """What ``makemigrations --check`` would write now, per app label, each operation as it prints it.

    Reads the migration files and the models of this process (Django set up) only: no database, no file
    written. Example: ``{"shop": ["+ Create model Coupon"]}``; ``{}`` when models and migrations agree.
    """
    operations = _pending_operations(_loader(), ProjectState.from_apps(apps))
    return {label: list(map(_describe, pending)) for label, pending in operations.items()}


def _loader() -> MigrationLoader:
    from django.db.migrations.loader import MigrationLoader

    # No connection: the loader reads the migration files only, as makemigrations' does.
    return MigrationLoader(None, ignore_no_migrations=True)


def _pending_operations(loader: MigrationLoader, state: ProjectState) -> dict[str, list[Operation]]:
    """The operations makemigrations would write per app to get from the migrations on disk to `state`."""
    autodetector = _autodetector_class()(loader.project_state(), state, _questioner())
    changes = autodetector.changes(graph=loader.graph)
    return {label: [op for each in migrations for op in each.operations] for label, migrations in changes.items()}


def _questioner() -> Any:
    return _questioner_class()(specified_apps=set(), dry_run=True, verbosity=0, log=_ignore)


class _Detector:
    """makemigrations' autodetector, run for one app at a time against the migration files, read once.

    The app's models and those they reach (relations, bases) are compared with their migration state; the
    operations are optimised (as makemigrations prints them) for that app only.
    """

    def __init__(self) -> None:
        self._loader = _loader()
        self._on_disk = self._loader.project_state()
        self._leaves = {label for label, _ in self._loader.graph.leaf_nodes()}
        self._questioner = _questioner()
        self._writes: dict[str, bool] = {}

    def writes_for(self, label: str) -> bool:
        """Whether makemigrations would write a migration for `label` (it has migrations, or may get its first)."""
        if label not in self._writes:
            self._writes[label] = label in self._leaves or bool(self._questioner.ask_initial(label))
        return self._writes[label]

    def operations(
        self, label: str, models: dict[ModelKey, type[Model]], state_of: Callable[[ModelKey], ModelState]
    ) -> list[Operation]:
        """What makemigrations would write for `label` if `models` were the project's (`state_of` gives their state)."""
        from django.db.migrations.optimizer import MigrationOptimizer

        on_disk = self._on_disk.models
        keys = _reached(label, on_disk, models)
        before = ProjectState({key: on_disk[key].clone() for key in keys if key in on_disk}, self._on_disk.real_apps)
        after = ProjectState({key: state_of(key) for key in keys if key in models})
        autodetector = _unoptimized_autodetector()(before, after, self._questioner)
        migrations = autodetector._detect_changes(graph=self._loader.graph)
        operations = [op for each in migrations.get(label, []) for op in each.operations]
        return list(MigrationOptimizer().optimize(operations, label))


def _reached(label: str, on_disk: dict[ModelKey, ModelState], models: dict[ModelKey, type[Model]]) -> set[ModelKey]:
    """The models of `label`, on disk or in `models`, and every model they reach through relations and bases."""
    keys = {key for key in (*on_disk, *models) if key[0] == label}
    todo = list(keys)
    while todo:
        key = todo.pop()
        targets = [*_state_references(on_disk[key])] if key in on_disk else []
        targets += _class_references(models[key]) if key in models else []
        for target in targets:
            if target not in keys:
                keys.add(target)
                todo.append(target)
    return keys


def _state_references(state: ModelState) -> Iterator[ModelKey]:
    for field in state.fields.values():
        yield from _field_references(field, state.app_label, state.name_lower)
    for base in state.bases:
        if isinstance(base, str) and "." in base:
            yield resolve_relation(base)
        elif isinstance(base, type):
            yield from _base_key(base)


def _class_references(model: type[Model]) -> Iterator[ModelKey]:
    meta = model._meta
    for field in (*meta.local_fields, *meta.local_many_to_many):
        yield from _field_references(field, meta.app_label, meta.model_name)
    for base in model.__mro__[1:]:
        yield from _base_key(base)


def _field_references(field: Any, app_label: str, model_name: str | None) -> Iterator[ModelKey]:
    remote = getattr(field, "remote_field", None)
    for target in (getattr(remote, "model", None), getattr(remote, "through", None)):
        if target is not None:
            yield resolve_relation(target, app_label, model_name)


def _base_key(base: type) -> Iterator[ModelKey]:
    meta = getattr(base, "_meta", None)
    if meta is not None and not meta.abstract:
        yield meta.app_label, meta.model_name


@functools.cache
def _unoptimized_autodetector() -> type[MigrationAutodetector]:
    """The project's autodetector without its optimisation pass, which optimises every app's operations."""

    class Unoptimized(_autodetector_class()):  # type: ignore[misc]
        def _optimize_migrations(self) -> None:
            pass

    return Unoptimized


def _key(model: type[Model]) -> ModelKey:
    return model._meta.app_label, str(model._meta.model_name)


def _installed_models() -> dict[ModelKey, type[Model]]:
    """The models ``ProjectState.from_apps(apps)`` takes: those of installed apps, swapped ones included."""
    return {_key(model): model for model in apps.get_models(include_swapped=True)}


def _signature(label: str, edited: Sequence[str]) -> Hashable:
    """What the drift of `label` depends on: its model classes, their field counts, its models edited in place."""
    models = apps.all_models.get(label, {})
    held = tuple(
        (name, id(model), len(model._meta.local_fields), len(model._meta.local_many_to_many))
        for name, model in models.items()
    )
    return held, tuple(name for name in edited if name.partition(".")[0] == label)


def _registry() -> dict[ModelKey, type[Model]]:
    return {(label, name): model for label, models in apps.all_models.items() for name, model in models.items()}


def _fields_made() -> tuple[int, int]:
    """Django's counters of model fields made (user-declared, auto-created): each new field moves one."""
    return Field.creation_counter, Field.auto_creation_counter


def _sized(models: Iterable[type[Model]]) -> list[Any]:
    """Each model's field lists, which grow in place when a field is added (``contribute_to_class``).

    Indexes, constraints and Meta options, rarely edited by tests, are left to sweeps.
    """
    sized: list[Any] = []
    for model in models:
        sized += (model._meta.local_fields, model._meta.local_many_to_many)
    return sized


def _autodetector_class() -> type[MigrationAutodetector]:
    """The autodetector of the project's makemigrations command (a class attribute since Django 5.2)."""
    from django.db.migrations.autodetector import MigrationAutodetector

    app = get_commands()["makemigrations"]
    command = app if isinstance(app, BaseCommand) else load_command_class(app, "makemigrations")
    return getattr(command, "autodetector", MigrationAutodetector)  # type: ignore[no-any-return]


def _ignore(message: str) -> None:
    """The questioner's log: nothing to say (makemigrations prints to the console)."""


def _describe(operation: Operation) -> str:
    """An operation as makemigrations prints it: ``+ Create model Coupon`` (``- Create model ...`` before 5.1)."""
    formatted = getattr(operation, "formatted_description", None)
    return str(formatted()) if formatted else f"- {operation.describe()}"


def _model_name(operation: Operation) -> str:
    """The lower-case name of the model an operation is about (a field operation's ``name`` is the field's)."""
    return str(getattr(operation, "model_name_lower", None) or getattr(operation, "name_lower", ""))


def _new_operations(current: list[Operation], before: list[Operation]) -> list[Operation]:
    """The operations of `current` that `before` did not have (as many times as it had each)."""
    left = Counter(map(_describe, before))
    new = []
    for operation in current:
        description = _describe(operation)
        if left[description]:
            left[description] -= 1
        else:
            new.append(operation)
    return new


def _change(label: str, drift: _Drift) -> Change:
    shown = list(drift.operations[:MAX_OPERATIONS_SHOWN])
    if len(drift.operations) > MAX_OPERATIONS_SHOWN:
        shown.append(f"and {len(drift.operations) - MAX_OPERATIONS_SHOWN} more")
    app = apps.app_configs[label].name if label in apps.app_configs else label
    advice = [ADVICE_REGISTRY.format(app=app, keys=", ".join(drift.explained_by))] if drift.explained_by else []
    if drift.imported:
        advice.append(ADVICE_IMPORTED.format(keys=", ".join(drift.imported)))
    if drift.in_place:
        advice.append(ADVICE_IN_PLACE.format(label=label))
    return Change(
        key=label,
        token=drift.operations,
        summary=f"makemigrations would now write for {label}: {'; '.join(shown)}",
        before="; ".join(drift.before) or None,
        after="; ".join(drift.pending),
        advice="; ".join([*advice, ADVICE_REAL]),
        details={
            "app_label": label,
            "operations": list(drift.operations),
            "explained_by": list(drift.explained_by),
            "first_imported": list(drift.imported),
        },
        origin=drift.frames,
        subjects=tuple(key.rpartition(".")[2] for key in drift.explained_by),
    )
