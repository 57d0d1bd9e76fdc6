"""Where things were created: cheap stack capture that keeps only the user's frames."""

from __future__ import annotations

import os
import sys
import sysconfig
from functools import lru_cache
from types import CodeType, FrameType
from typing import Final, NamedTuple

_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__))
MAX_FRAMES: Final = 5


class Frame(NamedTuple):
    """One frame of user code: a file (relative to the working directory when inside it)."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "function": self.function}


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib", "scripts") if key in paths}
    dirs.add(_PACKAGE_DIR)
    return tuple(os.path.join(os.path.abspath(d), "") for d in dirs)


_LIBRARY_DIRS: Final = _library_dirs()


@lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """True for the project's own files; False for Django, site-packages, the stdlib and us."""
    if filename.startswith("<"):
        return False
    return not os.path.abspath(filename).startswith(_LIBRARY_DIRS)


def relative_path(filename: str) -> str:
    """`filename` relative to the working directory, or absolute when outside it."""
    path = os.path.abspath(filename)
    cwd = os.path.join(os.getcwd(), "")
    return path.removeprefix(cwd)


RawStack = tuple[tuple[CodeType, int], ...]


def raw_stack(frame: FrameType | None, depth: int = 64) -> RawStack:
    """Code objects and instruction offsets of `frame` and its callers.

    Cheap to take (a line number costs a line-table lookup, an offset does
    not); :func:`user_frames_of` turns the few that matter into lines.
    """
    entries: list[tuple[CodeType, int]] = []
    append = entries.append  # taken for every INSERT: keep the loop lean
    for _ in range(depth):
        if frame is None:
            break
        append((frame.f_code, frame.f_lasti))
        frame = frame.f_back
    return tuple(entries)


def user_frames_of(stack: RawStack, limit: int = MAX_FRAMES) -> tuple[Frame, ...]:
    """The innermost `limit` user frames of a :func:`raw_stack`, innermost first."""
    found: list[Frame] = []
    for code, offset in stack:
        if is_user_file(code.co_filename) and not _is_launcher(code):
            found.append(Frame(relative_path(code.co_filename), _line(code, offset), code.co_name))
            if len(found) == limit:
                break
    return tuple(found)


def _line(code: CodeType, offset: int) -> int:
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


def _is_launcher(code: CodeType) -> bool:
    """The top level of the script that started the run (manage.py, runtests.py): never the culprit."""
    main = sys.modules.get("__main__")
    return code.co_name == "<module>" and code.co_filename == getattr(main, "__file__", None)


def user_frames(frame: FrameType | None, limit: int = MAX_FRAMES) -> tuple[Frame, ...]:
    """The innermost `limit` user frames from `frame` outwards, innermost first."""
    return user_frames_of(raw_stack(frame), limit)


def definition_frame(frame: FrameType | None, skip_dirs: tuple[str, ...]) -> FrameType | None:
    """The first frame outside `skip_dirs` and this package: the code that triggered a callback."""
    skipped = tuple(os.path.join(d, "") for d in (*skip_dirs, _PACKAGE_DIR))
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(skipped):
        frame = frame.f_back
    return frame
