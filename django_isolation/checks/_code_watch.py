"""Which of some chosen functions the running test ran, through ``sys.monitoring`` (Python 3.12+).

A leaked global or class attribute is only near a failing test if the test
ran code that reads it. ``sys.monitoring`` can report the start of chosen
code objects only (``set_local_events``): the rest of the program runs with
no hook at all. On Python before 3.12 nothing is watched and :data:`CODE_WATCH`
reports nothing.
"""

from __future__ import annotations

import sys
from types import CodeType
from typing import Any, Final

_TOOL_NAME: Final = "django-isolation"
_FREE_TOOL_IDS: Final = (3, 4)  # sys.monitoring's ids not assigned to debuggers, coverage, profilers, optimizers


class CodeWatch:
    """Notes which watched code objects started since :meth:`clear`."""

    def __init__(self) -> None:
        self.ran: set[CodeType] = set()
        self._watched: frozenset[CodeType] = frozenset()
        self._tool: int | None = None
        self._monitoring: Any = getattr(sys, "monitoring", None)

    @property
    def available(self) -> bool:
        return self._monitoring is not None

    def watch(self, codes: frozenset[CodeType]) -> None:
        """Watch exactly `codes` from now on (the same set at each test's start: compared by identity first)."""
        if codes is self._watched or codes == self._watched or not self._claim():
            return  # nothing new, or no monitoring (Python < 3.12, or both free tool ids taken)
        monitoring = self._monitoring
        for code in self._watched - codes:
            monitoring.set_local_events(self._tool, code, 0)
        for code in codes - self._watched:
            monitoring.set_local_events(self._tool, code, monitoring.events.PY_START)
        self._watched = codes

    def clear(self) -> None:
        self.ran.clear()

    def stop(self) -> None:
        if self._tool is not None:
            self.watch(frozenset())
            self._monitoring.register_callback(self._tool, self._monitoring.events.PY_START, None)
            self._monitoring.free_tool_id(self._tool)
            self._tool = None

    def _claim(self) -> bool:
        if self._tool is not None:
            return True
        monitoring = self._monitoring
        if monitoring is None:
            return False
        for tool in _FREE_TOOL_IDS:
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, _TOOL_NAME)
                monitoring.register_callback(tool, monitoring.events.PY_START, self._started)
                self._tool = tool
                return True
        return False

    def _started(self, code: CodeType, offset: int) -> None:
        self.ran.add(code)


CODE_WATCH: Final = CodeWatch()
