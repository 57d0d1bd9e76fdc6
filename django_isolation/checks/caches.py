"""``caches``: entries a test left in a local-memory cache (``LocMemCache``).

``cache.set("rate", 1.2)`` in one test is still there for the next one: a
test that expects a cold cache (or computes the value itself) then reads a
stale one, but only when it runs after the writer. ``LocMemCache`` keeps one
dict per ``LOCATION`` in ``django.core.cache.backends.locmem._caches``, shared
by every instance of that location. ``LocMemCache._set`` (behind ``set``,
``add``, ``set_many``, ``get_or_set``) and ``incr`` are wrapped at class level
to count writes and keep the writer's raw stack; the fingerprint is that count
and each location's size, and the entries are compared only when it moved.
``get`` and ``has_key`` are wrapped too, to note the keys the running test
read: the evidence that links a failure to a stale entry.

Only the locations of caches configured in ``settings.CACHES`` at the check
point are compared: a cache of an ``override_settings(CACHES=...)`` with a
location of its own is unreachable once the override ends. Entries that
expired, and entries a test deleted, are not leaks. Other backends are not
watched: Memcached and Redis cannot be read cheaply without changing what they
hold, a ``DatabaseCache`` table is covered by ``db_rows``.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import sys
import time
from collections.abc import Callable, Hashable
from typing import Any, Final, NamedTuple

from django.conf import settings
from django.core.cache.backends import locmem

from django_isolation import origin
from django_isolation.checks import Change, register
from django_isolation.checks.django_settings import short_repr

BACKEND: Final = "django.core.cache.backends.locmem.LocMemCache"
ADVICE: Final = (
    "clear what the test cached: self.addCleanup(cache.clear) or cache.clear() in tearDown (a pytest fixture "
    "that clears after yield), cache.delete({key!r}); or give the test a cache of its own with "
    "override_settings(CACHES={{{alias!r}: {{'BACKEND': '{backend}', 'LOCATION': 'a-test-location'}}}})"
)
READS: Final = ("get", "has_key")
_Set = Callable[..., None]
_Read = Callable[..., Any]
_Incr = Callable[..., Any]
EntryKey = tuple[str, str]  # (cache alias, key as stored, with prefix and version)


class _Entry(NamedTuple):
    store: int  # id of the location's dict: where the write stacks are filed
    pickled: bytes
    expires: float | None


@register
class CachesCheck:
    """Entries added to or changed in a configured ``LocMemCache`` and still there."""

    name = "caches"

    def __init__(self) -> None:
        self._events = 0
        self._stacks: dict[tuple[int, str], origin.RawStack] = {}
        self._originals: tuple[_Set, _Incr] | None = None
        self._hooks: tuple[_Set, _Incr] | None = None
        self._read_originals: dict[str, _Read] = {}
        self._reads: set[str] = set()  # keys, as stored, of entries set during the run that the running test read

    def start(self) -> None:
        cls = locmem.LocMemCache
        self._originals = (cls._set, cls.incr)
        self._hooks = (self._set(cls._set), self._incr(cls.incr))
        cls._set, cls.incr = self._hooks
        for name in READS:
            self._read_originals[name] = original = cls.__dict__[name]
            setattr(cls, name, self._reading(original))

    def stop(self) -> None:
        # Put Django's methods back only if nobody wrapped ours in the meantime.
        if self._originals is None or self._hooks is None:
            return
        cls = locmem.LocMemCache
        if cls.__dict__["_set"] is self._hooks[0]:
            cls._set = self._originals[0]
        if cls.__dict__["incr"] is self._hooks[1]:
            cls.incr = self._originals[1]
        for name, original in self._read_originals.items():
            if getattr(cls.__dict__[name], "__wrapped__", None) is original:
                setattr(cls, name, original)
        self._read_originals.clear()
        self._originals = self._hooks = None

    def test_started(self) -> None:
        self._reads.clear()

    def touched(self, change: Change) -> str | None:
        """Evidence that the running test read the leaked entry's key."""
        if change.details["stored_key"] in self._reads:
            return f"it read {change.details['key']!r} from cache {change.details['cache']!r}"
        return None

    def _reading(self, original: _Read) -> _Read:
        @functools.wraps(original)
        def read(cache: locmem.LocMemCache, key: Any, *args: Any, **kwargs: Any) -> Any:
            version = kwargs.get("version", args[1] if len(args) > 1 else None)
            with contextlib.suppress(Exception):  # an invalid key: Django's own call raises it
                stored = cache.make_key(key, version)
                if (id(cache._cache), stored) in self._stacks:  # a read of an entry set during the run
                    self._reads.add(stored)
            return original(cache, key, *args, **kwargs)

        return read

    def fingerprint(self, sweep: bool) -> Hashable:
        return self._events, tuple(map(len, locmem._caches.values()))

    def capture(self) -> dict[EntryKey, _Entry]:
        entries: dict[EntryKey, _Entry] = {}
        for alias, location in _configured_locations().items():
            store = locmem._caches.get(location)
            if store is None:
                continue  # not used yet: no LocMemCache of that location exists
            expiry = locmem._expire_info.get(location, {})
            for key, pickled in list(store.items()):
                entries[(alias, key)] = _Entry(id(store), pickled, expiry.get(key))
        self._forget_gone(entries)
        return entries

    def diff(self, baseline: dict[EntryKey, _Entry], current: dict[EntryKey, _Entry]) -> list[Change]:
        now = time.time()
        changes = []
        for key, entry in current.items():
            before = baseline.get(key)
            if (before is None or before.pickled != entry.pickled) and not _expired(entry, now):
                changes.append(self._changed(key, before, entry))
        return changes

    def _set(self, original: _Set) -> _Set:
        def _set(cache: locmem.LocMemCache, key: str, *args: Any, **kwargs: Any) -> None:
            self._record(cache, key)
            original(cache, key, *args, **kwargs)

        return _set

    def _incr(self, original: _Incr) -> _Incr:
        def incr(cache: locmem.LocMemCache, *args: Any, **kwargs: Any) -> Any:
            value = original(cache, *args, **kwargs)
            self._events += 1
            return value

        return incr

    def _record(self, cache: locmem.LocMemCache, key: str) -> None:
        # Code objects and offsets only; lines are looked up if the entry is reported.
        self._events += 1
        self._stacks[(id(cache._cache), key)] = origin.raw_stack(sys._getframe(2), depth=32)

    def _forget_gone(self, entries: dict[EntryKey, _Entry]) -> None:
        present = {(entry.store, key) for (_, key), entry in entries.items()}
        for gone in [stack_key for stack_key in self._stacks if stack_key not in present]:
            del self._stacks[gone]

    def _changed(self, key: EntryKey, before: _Entry | None, entry: _Entry) -> Change:
        alias, stored = key
        user_key = stored.split(":", 2)[-1]  # default KEY_FUNCTION: "prefix:version:key"
        value = _value(entry.pickled)
        change = "added" if before is None else "changed"
        stack = self._stacks.get((entry.store, stored))
        return Change(
            key=f"{alias}:{stored}",
            token=entry.pickled,
            summary=f"cache entry {user_key!r} {change} in cache {alias!r}: {value}",
            before=None if before is None else _value(before.pickled),
            after=value,
            advice=ADVICE.format(key=user_key, alias=alias, backend=BACKEND),
            details={"change": change, "cache": alias, "key": user_key, "stored_key": stored, "expires": entry.expires},
            subjects=(user_key,),
            origin=origin.user_frames_of(stack) if stack else (),
        )


def _configured_locations() -> dict[str, str]:
    """``LOCATION`` of every ``LocMemCache`` in ``settings.CACHES`` by alias; the first alias names a shared one."""
    locations: dict[str, str] = {}
    for alias, config in getattr(settings, "CACHES", {}).items():
        location = config.get("LOCATION", "")
        if config.get("BACKEND") == BACKEND and location not in locations.values():
            locations[alias] = location
    return locations


def _expired(entry: _Entry, now: float) -> bool:
    return entry.expires is not None and entry.expires <= now


def _value(pickled: bytes) -> str:
    try:
        return short_repr(pickle.loads(pickled))  # the test's own value, as cache.get() would load it
    except Exception:  # noqa: BLE001 - a value that cannot be loaded here is still a leak
        return f"<{len(pickled)} bytes, not loadable>"
