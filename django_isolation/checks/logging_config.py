"""``logging_config``: loggers whose level, handlers, ``propagate`` or ``disabled`` flag a test changed, and
``logging.disable()``, left that way.

``logging.config.dictConfig`` in a test disables every existing logger
(``disable_existing_loggers`` defaults to true), so a later ``assertLogs`` or
``caplog`` test sees nothing; a handler added and never removed writes every
later test's records (and keeps its file or stream open); a level set to
``CRITICAL`` hides what later tests assert on. CPython's regrtest compares the
handlers of the root logger; this check compares every logger.

``Logger.setLevel``/``addHandler``/``removeHandler``, ``logging.config.dictConfig``
and ``fileConfig`` are wrapped (at class/module level, while the check is on)
to know which loggers a test touched: the fingerprint at a check point is the
state of those loggers only (plus the root logger and ``logging.disable``), and
the stack of the last such call is a finding's origin. A plain assignment
(``logger.disabled = True``, ``logger.level = 10``) is seen at the next sweep.

Not leaks: the handlers of the test runner's own log capture (pytest's
``_pytest.logging`` handlers, added and removed around every test phase), and
what the top-level code of a module imported for the first time does (the
usual ``getLogger(__name__).addHandler(NullHandler())`` of libraries).
"""

from __future__ import annotations

import logging
import logging.config
import sys
from collections.abc import Callable, Hashable
from typing import Any, Final, NamedTuple

from django_isolation import origin
from django_isolation.checks import Change, register

ROOT: Final = "root"
DISABLE_KEY: Final = "logging.disable"
RUNNER_HANDLER_MODULES: Final = ("_pytest.",)
_HANDLER_METHODS: Final = ("addHandler", "removeHandler")
_WRAPPED_CONFIG: Final = ("dictConfig", "fileConfig")
ADVICE: Final = (
    "restore the logger when the test ends: self.assertLogs()/caplog.set_level() (restored for you), "
    "self.addCleanup(logger.removeHandler, handler) and self.addCleanup(logger.setLevel, old_level), "
    "mock.patch.object(logger, 'disabled', ...) as a context manager; don't call logging.config.dictConfig "
    "in a test (or pass disable_existing_loggers=False and restore the old configuration)"
)
ADVICE_DISABLE: Final = "call logging.disable(logging.NOTSET) when the test ends: self.addCleanup(logging.disable, 0)"


class LoggerState(NamedTuple):
    level: int
    propagate: bool
    disabled: bool
    handlers: tuple[tuple[int, str], ...]  # (id, class name) of each handler but the runner's own


DEFAULT: Final = LoggerState(logging.NOTSET, True, False, ())


class Config(NamedTuple):
    disable: int
    loggers: dict[str, LoggerState]


@register
class LoggingConfigCheck:
    """Every logger's level, handlers, ``propagate`` and ``disabled``, and ``logging.disable``."""

    name = "logging_config"

    def __init__(self) -> None:
        self._touched: dict[str, logging.Logger] = {}
        self._stacks: dict[str, origin.RawStack] = {}
        self._imported: dict[str, LoggerState] = {}  # state a first import gave a logger: its baseline
        self._configured = 0
        self._originals: dict[tuple[Any, str], Callable[..., Any]] = {}
        self._hooks: dict[tuple[Any, str], Callable[..., Any]] = {}

    def start(self) -> None:
        self._touched[ROOT] = logging.getLogger()
        for name in _HANDLER_METHODS:
            self._wrap(logging.Logger, name, self._handler_hook)
        self._wrap(logging.Logger, "setLevel", self._level_hook)
        for name in _WRAPPED_CONFIG:
            self._wrap(logging.config, name, self._config_hook)

    def stop(self) -> None:
        # Put logging's functions back only if nobody wrapped ours in the meantime.
        for (owner, name), hook in self._hooks.items():
            if vars(owner).get(name) is hook:
                setattr(owner, name, self._originals[(owner, name)])
        self._originals, self._hooks = {}, {}

    def fingerprint(self, sweep: bool) -> Hashable:
        loggers = _all_loggers() if sweep else self._touched
        return self._configured, logging.root.manager.disable, tuple(map(_light_state, list(loggers.values())))

    def capture(self) -> Config:
        return Config(logging.root.manager.disable, {name: _state(logger) for name, logger in _all_loggers().items()})

    def diff(self, baseline: Config, current: Config) -> list[Change]:
        changes = []
        if current.disable != baseline.disable:
            changes.append(_disable_change(baseline.disable, current.disable))
        for name in dict.fromkeys([*baseline.loggers, *current.loggers]):
            before = self._imported.get(name, baseline.loggers.get(name, DEFAULT))
            after = current.loggers.get(name, DEFAULT)
            if before != after:
                changes.append(self._change(name, before, after))
        return changes

    def _wrap(self, owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        original = getattr(owner, name)
        hook = make(original)
        self._originals[(owner, name)], self._hooks[(owner, name)] = original, hook
        setattr(owner, name, hook)

    def _handler_hook(self, original: Callable[..., Any]) -> Callable[..., Any]:
        runner_classes = _RUNNER_CLASSES

        def hook(logger: logging.Logger, hdlr: Any) -> Any:  # addHandler's and removeHandler's own signature
            result = original(logger, hdlr)
            # pytest's capture handlers come and go at every phase: one dict lookup, no frame, for them.
            if not runner_classes.get(hdlr.__class__) and not _runner_handler(hdlr):
                self._touched_by([logger], origin.raw_stack(sys._getframe(1)))
            return result

        return hook

    def _level_hook(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def hook(logger: logging.Logger, level: Any) -> Any:  # setLevel's own signature
            result = original(logger, level)
            self._touched_by([logger], origin.raw_stack(sys._getframe(1)))
            return result

        return hook

    def _config_hook(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def hook(*args: Any, **kwargs: Any) -> Any:
            try:
                return original(*args, **kwargs)
            finally:
                self._configured += 1
                # It may have disabled any logger: watch them all from now on.
                self._touched_by(list(_all_loggers().values()), origin.raw_stack(sys._getframe(1)))

        return hook

    def _touched_by(self, loggers: list[logging.Logger], stack: origin.RawStack) -> None:
        first_import = _first_import(stack)
        for logger in loggers:
            name = ROOT if logger is logging.root else logger.name
            self._touched[name] = logger
            if first_import:
                self._imported[name] = _state(logger)
            else:
                self._stacks[name] = stack

    def _change(self, name: str, before: LoggerState, after: LoggerState) -> Change:
        parts, kinds = _differences(before, after)
        return Change(
            key=name,
            token=after,
            summary=f"logger {name!r}: " + ", ".join(parts),
            before=_describe(before),
            after=_describe(after),
            advice=ADVICE,
            details={"change": "changed", "logger": name, "changes": kinds},
            subjects=(name, "assertLogs", "caplog"),
            origin=origin.user_frames_of(self._stacks.get(name, ())),
        )


def _differences(before: LoggerState, after: LoggerState) -> tuple[list[str], list[str]]:
    parts: list[str] = []
    kinds: list[str] = []
    if before.level != after.level:
        parts.append(f"level {logging.getLevelName(before.level)} -> {logging.getLevelName(after.level)}")
        kinds.append("level")
    old, new = dict(before.handlers), dict(after.handlers)
    added = [cls for key, cls in after.handlers if key not in old]
    removed = [cls for key, cls in before.handlers if key not in new]
    if added:
        parts.append("handler(s) added: " + ", ".join(added))
        kinds.append("handler_added")
    if removed:
        parts.append("handler(s) removed: " + ", ".join(removed))
        kinds.append("handler_removed")
    if before.propagate != after.propagate:
        parts.append(f"propagate {before.propagate} -> {after.propagate}")
        kinds.append("propagate")
    if before.disabled != after.disabled:
        parts.append("disabled" if after.disabled else "enabled")
        kinds.append("disabled")
    return parts, kinds


def _disable_change(before: int, after: int) -> Change:
    return Change(
        key=DISABLE_KEY,
        token=after,
        summary=f"logging.disable() level {logging.getLevelName(before)} -> {logging.getLevelName(after)}",
        before=logging.getLevelName(before),
        after=logging.getLevelName(after),
        advice=ADVICE_DISABLE,
        details={"change": "disable", "logger": None, "changes": ["disable"]},
        subjects=("assertLogs", "caplog"),
    )


def _all_loggers() -> dict[str, logging.Logger]:
    loggers = {name: logger for name, logger in list(logging.root.manager.loggerDict.items())}
    found = {name: logger for name, logger in loggers.items() if isinstance(logger, logging.Logger)}
    return {ROOT: logging.root, **found}


def _state(logger: logging.Logger) -> LoggerState:
    handlers = tuple((id(h), _class_name(h)) for h in logger.handlers if not _runner_handler(h))
    return LoggerState(logger.level, logger.propagate, logger.disabled, handlers)


def _light_state(logger: logging.Logger) -> tuple[object, ...]:
    """What :func:`_state` holds, as a plain tuple (no dataclass, no names): the fingerprint's part."""
    handlers = logger.handlers  # a list comprehension, and none without handlers: this runs at every point
    return (
        logger.level,
        logger.propagate,
        logger.disabled,
        tuple([id(h) for h in handlers if not _runner_handler(h)]) if handlers else (),
    )


_RUNNER_CLASSES: dict[type, bool] = {}
"""Handler class -> whether it is the test runner's own (:data:`RUNNER_HANDLER_MODULES`)."""


def _runner_handler(handler: object) -> bool:
    kind = handler.__class__
    runner = _RUNNER_CLASSES.get(kind)
    if runner is None:
        runner = _RUNNER_CLASSES[kind] = kind.__module__.startswith(RUNNER_HANDLER_MODULES)
    return runner


def _class_name(handler: object) -> str:
    return f"{type(handler).__module__}.{type(handler).__qualname__}"


def _describe(state: LoggerState) -> str:
    handlers = ", ".join(cls for _, cls in state.handlers) or "none"
    flags = ("" if state.propagate else ", propagate=False") + (", disabled" if state.disabled else "")
    return f"level {logging.getLevelName(state.level)}, handlers: {handlers}{flags}"


def _first_import(stack: origin.RawStack) -> bool:
    """A module's top-level code (other than the script that started the run) is on the stack."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return any(code.co_name == "<module>" and code.co_filename != main for code, _ in stack)
