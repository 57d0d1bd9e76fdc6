"""``urlconf``: a URLconf override left set for the thread, or URL resolver caches left stale.

``set_urlconf("tests.urls")`` outside a request stays for every later test of
the thread: ``reverse()`` and ``resolve()`` use that URLconf instead of
``ROOT_URLCONF``. Django resets it when a request finishes, and
``override_settings(ROOT_URLCONF=...)`` calls ``clear_url_caches()`` and
``set_urlconf(None)`` on both ends. A test that reloads or replaces the
``ROOT_URLCONF`` module (``importlib.reload(urls)``, a new ``urlpatterns``
list) without ``clear_url_caches()`` leaves the cached resolver serving the old
patterns.

The fingerprint reads the identity of the thread's ``asgiref`` storage behind
``django.urls.base._urlconfs`` (replaced on every ``set_urlconf()``),
the resolver cache's size and misses, and the identity of the ``ROOT_URLCONF``
module and of its ``urlpatterns``: no hook. When the cache holds resolvers,
``capture()`` asks it for the ``ROOT_URLCONF`` resolver (creating the lazy,
empty resolver Django would create at the next ``reverse()`` if it is not
there yet) and compares what it cached with the module.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import Any, Final, NamedTuple

from django.conf import settings
from django.urls import base, resolvers

from django_isolation.checks import Change, register
from django_isolation.checks._thread_locals import version_reader

URL_READERS: Final = ("reverse", "reverse_lazy", "resolve", "get_resolver", "get_urlconf", "client", "urlpatterns")
"""Names in a failing test's code that resolve URLs (the subjects of a URLconf leak)."""
ADVICE_OVERRIDE: Final = (
    "call set_urlconf(None) in tearDown / self.addCleanup(set_urlconf, None), or use "
    "@override_settings(ROOT_URLCONF=...) (or the `urls` attribute of SimpleTestCase / @pytest.mark.urls)"
)
ADVICE_STALE: Final = (
    "call django.urls.clear_url_caches() after changing the URLconf module (and again in cleanup after "
    "restoring it), or use @override_settings(ROOT_URLCONF=...) / @pytest.mark.urls with a test URLconf module"
)


class _State(NamedTuple):
    override: str | None
    stale: str | None  # why the cached ROOT_URLCONF resolver no longer matches the module, if it does not


@register
class UrlconfCheck:
    """``set_urlconf()`` overrides and stale URL resolver caches left by a test."""

    name = "urlconf"

    def __init__(self) -> None:
        # LazySettings' own __dict__ (holds _wrapped), read past LazyObject.__getattribute__.
        self._lazy: dict[str, Any] = object.__getattribute__(settings, "__dict__")
        self._version = version_reader(base._urlconfs, "value")
        self._held: object = None

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        root = getattr(self._lazy.get("_wrapped"), "ROOT_URLCONF", None)  # _root(), inline: runs at every point
        module = sys.modules.get(root) if root and isinstance(root, str) else None
        info = resolvers._get_cached_resolver.cache_info()
        self._held = self._version()  # held, so that its id is not reused by another object
        return id(self._held), info.misses, info.currsize, root, id(module), id(getattr(module, "urlpatterns", None))

    def capture(self) -> _State:
        override = getattr(base._urlconfs, "value", None)
        return _State(None if override is None else _name(override), self._stale())

    def diff(self, baseline: _State, current: _State) -> list[Change]:
        changes = []
        # An override equal to the ROOT_URLCONF in force (a class's override_settings(ROOT_URLCONF=...), whose
        # end makes Django call set_urlconf(None)) resolves exactly as without it: nothing a later test would see.
        if current.override not in (None, baseline.override, self._root()):
            changes.append(_override_left(baseline, current))
        if current.stale is not None and current.stale != baseline.stale:
            changes.append(_stale(current.stale))
        return changes

    def _root(self) -> str | None:
        root = getattr(self._lazy.get("_wrapped"), "ROOT_URLCONF", None)
        return root if isinstance(root, str) else None

    def _stale(self) -> str | None:
        root = self._root()
        if root is None or not resolvers._get_cached_resolver.cache_info().currsize:
            return None
        cached = vars(resolvers._get_cached_resolver(root))
        module = sys.modules.get(root)
        if "urlconf_module" in cached and cached["urlconf_module"] is not module:
            return f"the cached resolver of {root!r} holds a module object that is no longer sys.modules[{root!r}]"
        if "url_patterns" in cached and module is not None:
            patterns = getattr(module, "urlpatterns", module)
            if cached["url_patterns"] is not patterns:
                return f"the cached resolver of {root!r} holds an old urlpatterns list (module reloaded or edited)"
        return None


def _name(urlconf: Any) -> str:
    return urlconf if isinstance(urlconf, str) else getattr(urlconf, "__name__", type(urlconf).__name__)


def _override_left(baseline: _State, current: _State) -> Change:
    return Change(
        key="set_urlconf",
        token=current.override,
        summary=f"URLconf override {current.override!r} left set for the thread (django.urls.set_urlconf)",
        before=baseline.override,
        after=current.override,
        advice=ADVICE_OVERRIDE,
        details={"change": "override_left_set", "urlconf": current.override},
        subjects=(*URL_READERS, str(current.override)),
    )


def _stale(reason: str) -> Change:
    return Change(
        key="resolver_cache",
        token=reason,
        summary=f"URL resolver cache left stale: {reason}; clear_url_caches() was not called",
        before=None,
        after=reason,
        advice=ADVICE_STALE,
        details={"change": "stale_resolver_cache", "reason": reason},
        subjects=URL_READERS,
    )
