"""``media_files``: files a test left in (or removed from) ``MEDIA_ROOT``.

A test that saves an upload through ``default_storage`` or a ``FileField``
without a temporary ``MEDIA_ROOT`` leaves the file on disk: later tests (and
later runs) find ``avatar_1.png`` already there, get ``avatar_1_Xb3k.png``
instead, and assertions on names or directory listings fail.

What is watched: the ``MEDIA_ROOT`` in force when the run started. Every save
and delete of a ``FileSystemStorage`` is seen by wrapping ``_save`` and
``delete`` at class level (a counter, the path and the caller's raw stack,
then Django's own method). The fingerprint is that counter and the
modification time of ``MEDIA_ROOT`` itself; at sweeps (module ends) also the
modification times of its subdirectories, which sees files written with plain
``open()``. The tree is listed only when the fingerprint moved. A tree of more
than ``MAX_ENTRIES`` entries (or an empty ``MEDIA_ROOT``: the working
directory) is not walked: then only files saved through a storage are
followed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Final

from django.conf import settings
from django.core.files.storage import FileSystemStorage

from django_isolation import origin
from django_isolation.checks import Change, register

MAX_ENTRIES: Final = 5000
ADVICE_ADDED: Final = (
    "give the test its own MEDIA_ROOT: @override_settings(MEDIA_ROOT=tempfile.mkdtemp()) with a cleanup that "
    "removes it (or pytest's tmp_path with the `settings` fixture), or delete the file in tearDown / addCleanup"
)
ADVICE_DELETED: Final = (
    "a test that deletes media files must work on a copy: use a temporary MEDIA_ROOT "
    "(@override_settings(MEDIA_ROOT=...)) holding the files it needs"
)
_Method = Callable[..., Any]


class _TooMany(Exception):
    pass


@register
class MediaFilesCheck:
    """Files added to or deleted from ``MEDIA_ROOT`` by a test."""

    name = "media_files"

    def __init__(self) -> None:
        self._events = 0
        self._saved: dict[str, origin.RawStack] = {}  # absolute path -> stack of the save
        self._originals: list[tuple[str, _Method, _Method]] = []
        self._root = ""
        self._walk = False

    def start(self) -> None:
        media_root = str(getattr(settings, "MEDIA_ROOT", "") or "")
        self._root = os.path.join(os.path.abspath(media_root), "")
        self._walk = bool(media_root)
        if self._walk:
            try:
                _files(self._root)
            except _TooMany:
                self._walk = False
        for name, hook in (("_save", self._save_hook), ("delete", self._delete_hook)):
            original = FileSystemStorage.__dict__[name]
            wrapper = hook(original)
            setattr(FileSystemStorage, name, wrapper)
            self._originals.append((name, original, wrapper))

    def stop(self) -> None:
        # Put Django's methods back only if nobody wrapped ours in the meantime.
        for name, original, wrapper in self._originals:
            if FileSystemStorage.__dict__.get(name) is wrapper:
                setattr(FileSystemStorage, name, original)
        self._originals = []

    def fingerprint(self, sweep: bool) -> Hashable:
        if not self._walk:
            return self._events
        if not sweep:
            return self._events, _mtime(self._root)
        return self._events, tuple(_dir_times(self._root))

    def capture(self) -> frozenset[str]:
        files = set()
        if self._walk:
            try:
                files = _files(self._root)
            except _TooMany:
                self._walk = False
        for path in list(self._saved):
            if os.path.exists(path):
                files.add(path)
            else:
                del self._saved[path]  # deleted again: keep the ledger small
        return frozenset(files)

    def diff(self, baseline: frozenset[str], current: frozenset[str]) -> list[Change]:
        changes = [self._change(path, "added") for path in sorted(current - baseline)]
        changes += [self._change(path, "deleted") for path in sorted(baseline - current)]
        return changes

    def _save_hook(self, original: _Method) -> _Method:
        def _save(storage: FileSystemStorage, name: str, content: Any) -> Any:
            saved = original(storage, name, content)
            self._record(storage, saved)
            return saved

        return _save

    def _delete_hook(self, original: _Method) -> _Method:
        def delete(storage: FileSystemStorage, name: str) -> Any:
            self._events += 1
            return original(storage, name)

        return delete

    def _record(self, storage: FileSystemStorage, name: str) -> None:
        self._events += 1
        path = os.path.abspath(storage.path(name))
        if path.startswith(self._root):  # files in a test's own temporary MEDIA_ROOT are not watched
            # Only the stack is taken here; lines are looked up if a leak is reported.
            self._saved[path] = origin.raw_stack(sys._getframe(1), depth=32)

    def _change(self, path: str, change: str) -> Change:
        relative = path.removeprefix(self._root)
        stack = self._saved.get(path)
        where = "MEDIA_ROOT" if self._walk or settings.MEDIA_ROOT else "the working directory (MEDIA_ROOT is empty)"
        return Change(
            key=relative,
            token=change,
            summary=f"file {relative} {'left in' if change == 'added' else 'deleted from'} {where}",
            before=None if change == "added" else relative,
            after=relative if change == "added" else None,
            advice=ADVICE_ADDED if change == "added" else ADVICE_DELETED,
            details={"change": change, "path": relative, "media_root": self._root.rstrip(os.sep)},
            subjects=(relative, os.path.basename(relative), "MEDIA_ROOT"),
            origin=origin.user_frames_of(stack) if stack else (),
        )


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _dir_times(root: str) -> Iterator[tuple[str, int]]:
    yield root, _mtime(root)
    stack, count = [root], 0
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                count += 1
                if count > MAX_ENTRIES:
                    return
                yield entry.path, entry.stat(follow_symlinks=False).st_mtime_ns
                stack.append(entry.path)


def _files(root: str) -> set[str]:
    """Every file under `root`; raises :class:`_TooMany` beyond ``MAX_ENTRIES`` entries."""
    found: set[str] = set()
    stack, count = [root], 0
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        count += len(entries)
        if count > MAX_ENTRIES:
            raise _TooMany
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                found.add(entry.path)
    return found
