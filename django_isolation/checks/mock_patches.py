"""``mock_patches``: ``unittest.mock`` patches started by a test and never stopped.

``patch("app.services.send").start()`` (or ``patch.object``/``patch.dict``/
``patch.multiple`` ``.start()``) patches until ``stop()`` or
``patch.stopall()``: without them every later test runs against the mock.
``mock`` itself keeps the started patches in ``_patch._active_patches`` (the
list ``stopall()`` empties), so the fingerprint is the identities in that
list. Where ``start()`` was called is recorded by wrapping ``_patch.start`` and
``_patch_dict.start`` at class level: the wrapper takes the caller's raw stack
and calls the original, so behaviour does not change. Patches used as
decorators or context managers never enter that list and are not seen (they
always stop).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Hashable
from typing import Any, Final
from unittest import mock

from django_isolation import origin
from django_isolation.checks import Change, register

ADVICE: Final = (
    "stop the patch: `patcher = patch(...); patcher.start(); self.addCleanup(patcher.stop)`, or use the patch "
    "as a context manager or decorator, or pytest's monkeypatch / pytest-mock's mocker, which undo at teardown"
)
_PATCH_CLASSES: Final[tuple[type, ...]] = (mock._patch, mock._patch_dict)
_Start = Callable[[Any], Any]
Active = tuple[Any, ...]


@register
class MockPatchesCheck:
    """``mock.patch(...).start()`` without a matching ``stop()``."""

    name = "mock_patches"

    def __init__(self) -> None:
        self._starts: dict[int, origin.RawStack] = {}
        self._originals: list[tuple[type, _Start, _Start]] = []

    def start(self) -> None:
        for cls in _PATCH_CLASSES:
            original = cls.__dict__["start"]
            hook = self._hook(original)
            setattr(cls, "start", hook)  # noqa: B010 - a class attribute on purpose
            self._originals.append((cls, original, hook))

    def stop(self) -> None:
        # Put mock's methods back only if nobody wrapped ours in the meantime.
        for cls, original, hook in self._originals:
            if cls.__dict__.get("start") is hook:
                setattr(cls, "start", original)  # noqa: B010 - a class attribute on purpose
        self._originals = []

    def fingerprint(self, sweep: bool) -> Hashable:
        return tuple(map(id, _active()))

    def capture(self) -> Active:
        active = tuple(_active())
        live = set(map(id, active))
        for key in [key for key in self._starts if key not in live]:
            del self._starts[key]  # stopped patches: keep the ledger small
        return active

    def diff(self, baseline: Active, current: Active) -> list[Change]:
        before = set(map(id, baseline))
        changes: list[Change] = []
        seen: dict[str, int] = {}
        for patcher in current:
            if id(patcher) in before:
                continue
            target = describe(patcher)
            seen[target] = seen.get(target, 0) + 1
            key = target if seen[target] == 1 else f"{target}#{seen[target]}"
            stack = self._starts.get(id(patcher))
            changes.append(
                Change(
                    key=key,
                    token=id(patcher),
                    summary=f"mock patch of {target} started and never stopped",
                    before=None,
                    after=target,
                    advice=ADVICE,
                    details={"change": "started", "target": target, "kind": type(patcher).__name__},
                    subjects=(target,),
                    origin=origin.user_frames_of(stack) if stack else (),
                )
            )
        return changes

    def _hook(self, original: _Start) -> _Start:
        def start(patcher: Any) -> Any:
            # Only the stack is taken here; lines are looked up if the patch is reported.
            self._starts[id(patcher)] = origin.raw_stack(sys._getframe(1), depth=32)
            return original(patcher)

        return start


def _active() -> list[Any]:
    return mock._patch._active_patches  # type: ignore[attr-defined,no-any-return]


def describe(patcher: Any) -> str:
    """``module.Class.attribute`` for ``patch``/``patch.object``, ``patch.dict(name)`` for ``patch.dict``."""
    if isinstance(patcher, mock._patch_dict):
        return f"patch.dict({_dict_name(patcher.in_dict)})"
    target = getattr(patcher, "target", None)
    names = [patcher.attribute, *(p.attribute for p in getattr(patcher, "additional_patchers", ()))]
    return f"{_name(target)}.{'/'.join(names)}"


def _name(target: Any) -> str:
    if isinstance(target, type):
        return f"{target.__module__}.{target.__qualname__}"
    name = getattr(target, "__name__", None)
    return name if isinstance(name, str) else f"<{type(target).__name__} object>"


def _dict_name(in_dict: Any) -> str:
    if isinstance(in_dict, str):
        return in_dict
    if in_dict is os.environ:
        return "os.environ"
    if in_dict is sys.modules:
        return "sys.modules"
    return f"<{type(in_dict).__name__}>"
