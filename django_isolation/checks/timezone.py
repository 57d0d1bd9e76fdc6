"""``timezone``: a time zone left activated by a test, or the process time zone changed.

``timezone.activate("Europe/Paris")`` stays for every later test of the thread:
``localtime()``, forms and templates then render in Paris time. Setting
``os.environ["TZ"]`` (and calling ``time.tzset()``) changes the time zone of
the whole process: ``time.localtime()`` and naive ``datetime.now()`` shift.
``timezone.override()`` and ``override_settings(TIME_ZONE=...)`` (which
resets ``TZ`` and calls ``tzset()`` on exit) put things back. The check reads
the identity of the thread's ``asgiref`` storage behind
``django.utils.timezone._active`` (replaced on every ``activate()``),
``os.environ["TZ"]`` and ``time.tzname`` at every check point: no hook.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from functools import partial
from typing import Final, NamedTuple

from django.conf import settings
from django.utils import timezone

from django_isolation.checks import Change, register
from django_isolation.checks._thread_locals import version_reader

ACTIVE_ZONE_READERS: Final = (
    "get_current_timezone",
    "get_current_timezone_name",
    "localtime",
    "localdate",
    "make_aware",
    "make_naive",
)
"""Names in a failing test's code that read the active time zone (the subjects of its leak)."""
PROCESS_ZONE_READERS: Final = ("tzset", "tzname", "mktime", "strftime", "ctime", "fromtimestamp", "TZ")
ADVICE_ACTIVE: Final = (
    "use `with timezone.override(tz):` or @timezone.override(tz) instead of timezone.activate(); "
    "or call timezone.deactivate() in tearDown / self.addCleanup(timezone.deactivate)"
)
ADVICE_RESTORED_BY_DJANGO: Final = (
    "an override_settings(TIME_ZONE=...) ended: Django then sets TZ to the TIME_ZONE in force and calls "
    "time.tzset(), but the run started without TZ set to it (settings.configure() does not set TZ; a settings "
    "module does): set TZ to TIME_ZONE when the run starts (os.environ['TZ'] = TIME_ZONE; time.tzset() where "
    "settings are configured), so that the override's end restores what the first test saw"
)
ADVICE_PROCESS: Final = (
    "use @override_settings(TIME_ZONE=...) (it sets TZ and calls time.tzset() and undoes both), "
    "monkeypatch.setenv('TZ', ...) followed by time.tzset() with a cleanup that calls time.tzset() again, "
    "or mock.patch.dict(os.environ, {'TZ': ...}) as a context manager"
)


class _State(NamedTuple):
    active: str | None
    active_id: int
    tz_env: str | None
    tzname: tuple[str, ...]


@register
class TimezoneCheck:
    """Django's active time zone, ``TZ`` and ``time.tzname`` changed by a test."""

    name = "timezone"

    def __init__(self) -> None:
        self._version = version_reader(timezone._active, "value")
        self._held: object = None
        self._tz = _tz_reader()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        self._held = self._version()  # held, so that its id is not reused by another object
        return id(self._held), self._tz(), time.tzname

    def capture(self) -> _State:
        active = getattr(timezone._active, "value", None)
        shown = None if active is None else str(active)
        return _State(shown, id(active), os.environ.get("TZ"), tuple(time.tzname))

    def diff(self, baseline: _State, current: _State) -> list[Change]:
        changes = []
        if current.active is not None and current.active != baseline.active:
            changes.append(_activated(baseline, current))
        if (current.tz_env, current.tzname) != (baseline.tz_env, baseline.tzname):
            changes.append(_process(baseline, current))
        return changes


def _activated(baseline: _State, current: _State) -> Change:
    return Change(
        key="timezone.activate",
        token=current.active,
        summary=f"time zone {current.active!r} left activated for the thread (django.utils.timezone.activate)",
        before=baseline.active or "the default TIME_ZONE",
        after=current.active,
        advice=ADVICE_ACTIVE,
        details={"change": "activated", "timezone": current.active},
        subjects=(*ACTIVE_ZONE_READERS, str(current.active)),
    )


def _set_by_an_override_ending(baseline: _State, current: _State) -> bool:
    """TZ is now the TIME_ZONE in force, which it was not at the start: Django's handler of an ending
    override_settings(TIME_ZONE=...) put it there, in a process whose settings never set TZ."""
    zone = getattr(object.__getattribute__(settings, "__dict__").get("_wrapped"), "TIME_ZONE", None)
    return zone is not None and current.tz_env == zone and baseline.tz_env != zone


def _process(baseline: _State, current: _State) -> Change:
    applied = current.tzname != baseline.tzname
    if current.tz_env != baseline.tz_env:
        what = f"TZ environment variable changed to {current.tz_env!r}"
        what += " and applied with time.tzset()" if applied else " (not applied yet: the next time.tzset() will)"
    else:
        what = f"process time zone changed by time.tzset() to {current.tzname!r}"
    return Change(
        key="process.TZ",
        token=(current.tz_env, current.tzname),
        summary=what,
        before=f"TZ={baseline.tz_env!r}, time.tzname={baseline.tzname!r}",
        after=f"TZ={current.tz_env!r}, time.tzname={current.tzname!r}",
        advice=ADVICE_RESTORED_BY_DJANGO if _set_by_an_override_ending(baseline, current) else ADVICE_PROCESS,
        details={
            "change": "process_timezone",
            "tz_env": current.tz_env,
            "tzname": list(current.tzname),
            "applied": applied,
        },
        subjects=(*PROCESS_ZONE_READERS, str(current.tz_env)),
        cause="timezone:TZ",  # environ sees the variable too: one finding
    )


def _tz_reader() -> Callable[[], object]:
    """A function that reads ``TZ`` as ``os.environ`` holds it: its own dict's ``get`` of the encoded key, which
    runs in C (``os.environ.get`` encodes the key and decodes the value in Python at every check point)."""
    data, encode = getattr(os.environ, "_data", None), getattr(os.environ, "encodekey", None)
    if isinstance(data, dict) and callable(encode):
        return partial(data.get, encode("TZ"))
    return partial(os.environ.get, "TZ")
