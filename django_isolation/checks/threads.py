"""``threads``: threads a test started that are still running when it ends.

A thread left running (a worker never joined, a ``ThreadPoolExecutor`` never
shut down, a timer not cancelled) keeps touching shared state during later
tests, holds database connections that make ``TestCase`` teardown or test
database destruction fail, and makes failures depend on timing; CPython's
regrtest reports these tests as ENV_CHANGED. ``threading.Thread.start`` is
wrapped (at class level, while the check is on) to keep the stack of each
start: that is the finding's origin.

Not leaks: threads running before the tests, threads that ended before the
check point (joined, or simply done), threads started by the top-level code of
a module imported for the first time, and threads started by library code
(the first caller of ``start()`` outside the standard library is not the
project's code: asgiref's single-thread executor, a driver's pool, Django's
live server thread): a library owns those, a test cannot join them.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import weakref
from collections.abc import Callable, Hashable
from types import CodeType
from typing import Any, Final

from django_isolation import origin
from django_isolation.checks import Change, register

_PATHS: Final = sysconfig.get_paths()
_STDLIB: Final = tuple(os.path.join(os.path.abspath(_PATHS[key]), "") for key in ("stdlib", "platstdlib"))
# site-packages may sit inside the stdlib directory (no virtualenv): libraries there are not the stdlib.
_SITE: Final = tuple(os.path.join(os.path.abspath(_PATHS[key]), "") for key in ("purelib", "platlib"))
ADVICE: Final = (
    "stop and join the thread before the test ends: self.addCleanup(thread.join) (after telling it to stop), "
    "executor.shutdown(wait=True) or `with ThreadPoolExecutor() as executor:`, timer.cancel(); "
    "or mock the code that starts it"
)
Threads = dict[int, threading.Thread]
_Start = Callable[[threading.Thread], None]


@register
class ThreadsCheck:
    """Threads started by the project's code during a test and still alive at its end."""

    name = "threads"

    def __init__(self) -> None:
        self._stacks: weakref.WeakKeyDictionary[threading.Thread, origin.RawStack] = weakref.WeakKeyDictionary()
        self._original: _Start | None = None
        self._hook: _Start | None = None
        self._starts = 0

    def start(self) -> None:
        original = threading.Thread.start
        stacks = self._stacks

        def start(thread: threading.Thread) -> None:
            stacks[thread] = origin.raw_stack(sys._getframe(1))
            self._starts += 1
            original(thread)

        self._original, self._hook = original, start
        threading.Thread.start = start  # type: ignore[method-assign,assignment]

    def stop(self) -> None:
        # Put threading's method back only if nobody wrapped ours in the meantime.
        if self._original is not None and threading.Thread.__dict__["start"] is self._hook:
            threading.Thread.start = self._original  # type: ignore[method-assign,assignment]
        self._original = self._hook = None

    def fingerprint(self, sweep: bool) -> Hashable:
        if not sweep:  # a thread started through Thread.start, or one that ended
            return self._starts, threading.active_count()
        return self._starts, threading.active_count(), tuple(map(id, threading.enumerate()))

    def capture(self) -> Threads:
        return {id(thread): thread for thread in threading.enumerate()}

    def diff(self, baseline: Threads, current: Threads) -> list[Change]:
        started = [
            thread
            for key, thread in current.items()
            if baseline.get(key) is not thread and thread.is_alive() and self._projects(thread)
        ]
        changes: list[Change] = []
        names: dict[str, int] = {}
        for thread in started:
            names[thread.name] = names.get(thread.name, 0) + 1
            key = thread.name if names[thread.name] == 1 else f"{thread.name} #{names[thread.name]}"
            changes.append(self._change(key, thread))
        return changes

    def _projects(self, thread: threading.Thread) -> bool:
        """Started by the project's own code, other than a module's top-level code (a first import)."""
        stack = self._stacks.get(thread)
        if not stack:
            return False  # running before the check started, or a thread threading only learnt of (_DummyThread)
        starter = next((code for code, _ in stack if not _in_stdlib(code.co_filename)), None)
        if starter is None or not origin.is_user_file(starter.co_filename):
            return False
        return not any(code.co_name == "<module>" and not _is_launcher(code) for code, _ in stack)

    def _change(self, key: str, thread: threading.Thread) -> Change:
        target = _target(thread)
        kind = "daemon thread" if thread.daemon else "thread"
        return Change(
            key=key,
            token=id(thread),
            summary=f"{kind} {thread.name!r} still running" + (f" (target {target})" if target else ""),
            before=None,
            after=thread.name,
            advice=ADVICE,
            details={"change": "running", "name": thread.name, "daemon": thread.daemon, "target": target},
            origin=origin.user_frames_of(self._stacks.get(thread, ())),
        )


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB) and not filename.startswith(_SITE)


def _is_launcher(code: CodeType) -> bool:
    """The top-level code of the script that started the run (manage.py, pytest's __main__): not an import."""
    return code.co_filename == getattr(sys.modules.get("__main__"), "__file__", None)


def _target(thread: threading.Thread) -> str | None:
    """The thread's target function (or its run method when overridden) with where it is defined."""
    function: Any = getattr(thread, "_target", None)
    if function is None and type(thread).run is not threading.Thread.run:
        function = type(thread).run
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    return f"{function.__qualname__} ({origin.relative_path(code.co_filename)}:{code.co_firstlineno})"
