"""``translation``: a language left activated for the thread by a test.

``translation.activate("fr")`` in a test stays for every later test of the
thread: ``gettext`` then answers in French and ``reverse()`` of
``i18n_patterns`` URLs gets a ``/fr/`` prefix. ``translation.override()`` (a
context manager or decorator) puts the previous language back. The check reads
the identity of the thread's ``asgiref`` storage behind
``trans_real._active`` at every check point (it is replaced on every
``activate()``/``deactivate()``), and the active language only when that
moved: no hook in Django. Where ``activate()`` was called is not recorded.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Final

from django.conf import settings
from django.utils.translation import trans_real

from django_isolation.checks import Change, register
from django_isolation.checks._thread_locals import version_reader

LANGUAGE_READERS: Final = ("get_language", "gettext", "ngettext", "pgettext", "gettext_lazy", "reverse", "render")
"""Names in a failing test's code that read the active language (the subjects of its leak)."""
ADVICE: Final = (
    "use `with translation.override(language):` or @translation.override(language) instead of "
    "translation.activate(); or call translation.deactivate() in tearDown / self.addCleanup(translation.deactivate)"
)
# The active translation (None: the default LANGUAGE_CODE) and its language code.
Active = tuple[int, "str | None"]


@register
class TranslationCheck:
    """The active translation (``django.utils.translation.get_language()``) left activated by a test."""

    name = "translation"

    def __init__(self) -> None:
        self._version = version_reader(trans_real._active, "value")
        self._held: object = None

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def fingerprint(self, sweep: bool) -> Hashable:
        self._held = self._version()  # held, so that its id is not reused by another object
        return id(self._held)

    def capture(self) -> Active | None:
        active = getattr(trans_real._active, "value", None)
        if active is None:
            return None
        return id(active), _language(active)

    def diff(self, baseline: Active | None, current: Active | None) -> list[Change]:
        if current is None or current[1] == (settings.LANGUAGE_CODE if baseline is None else baseline[1]):
            return []  # deactivate(), or the language in force before: nothing a later test would notice
        language = current[1]
        shown = "no language (deactivate_all)" if language is None else f"language {language!r}"
        before = "the default LANGUAGE_CODE" if baseline is None else repr(baseline[1])
        return [
            Change(
                key="active_language",
                token=language,
                summary=f"translation: {shown} left activated for the thread",
                before=before,
                after=repr(language),
                advice=ADVICE,
                details={"change": "activated" if language is not None else "deactivated_all", "language": language},
                subjects=(*LANGUAGE_READERS, str(language)),
            )
        ]


def _language(active: Any) -> str | None:
    try:
        language = active.to_language()
    except AttributeError:  # a NullTranslations that deactivate_all() did not label
        return None
    return language if isinstance(language, str) else None
