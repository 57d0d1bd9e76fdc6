"""Cheap reads of ``asgiref.local.Local`` objects (Django's per-thread state: active language, time zone, URLconf).

``getattr(local, name)`` goes through a context manager and costs several
microseconds; a check point needs far less. asgiref (3.7 and later) keeps a
non-thread-critical ``Local``'s data in a ``ContextVar`` that is *set to a new
object on every write*, so the identity of that object tells whether anything
was written since. A ``Local`` laid out otherwise falls back to ``getattr``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from functools import partial
from typing import Any


def version_reader(local: Any, name: str) -> Callable[[], object]:
    """A function whose result changes identity whenever `local` is written in this context.

    Falls back to the attribute `name` itself (its identity changes when it is set to another value).
    """
    storage = _own(local, "_storage")
    data = _own(storage, "_data")
    if isinstance(data, ContextVar):
        return partial(data.get, None)
    return partial(getattr, local, name, None)


def thread_local(local: Any) -> threading.local | None:
    """The ``threading.local`` that holds a thread-critical `local`'s attributes (its ``__dict__`` is the current
    thread's), or None if unknown: found once, read at every check point."""
    storage = _own(local, "_storage")
    return storage if isinstance(storage, threading.local) else None


def _own(obj: Any, name: str) -> Any:
    try:
        return vars(obj).get(name)
    except TypeError:  # no __dict__
        return None
