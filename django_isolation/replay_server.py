"""``--isolation-replay-server R:W``: one process that loaded the tests once runs each trial in a forked child.

find-polluter runs many trials of the same tests. Starting the runner,
setting Django up and importing the test modules costs about a second a run
(most of a run, on a fast suite); a fork costs milliseconds. The front loads
the tests the ``--isolation-replay`` file lists (every test a trial may run),
then calls :func:`serve`: for each request read from file descriptor ``R`` it
forks; the child runs the requested tests in order, writes their outcomes,
and exits; the parent, which never runs a test, answers on ``W`` once the
child has ended. Each trial so starts from the state of a fresh process that
has loaded those tests and run none, as a separate run would.

A request is one JSON line: ``{"tests": [...], "database": "first"|"reuse",
"result": PATH}`` (the child writes ``{"order": {"main": [...]}, "failed":
{"main": [...]}}`` there), ``{"database": "drop"}`` (drop the test databases and
their copies), or ``{"stop": true}``. The answer: ``{"status": N}``, the child's
exit status.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Request = dict[str, Any]


def serve(channel: str, run: Callable[[Request], None]) -> None:
    """Answer the requests on `channel` (``"R:W"``, two inherited file descriptors), each in a forked child."""
    read_fd, write_fd = (int(part) for part in channel.split(":"))
    with os.fdopen(read_fd, "r", encoding="utf-8") as requests, os.fdopen(write_fd, "w", encoding="utf-8") as answers:
        for line in requests:
            request: Request = json.loads(line)
            if request.get("stop"):
                break
            answers.write(json.dumps({"status": _in_child(run, request)}) + "\n")
            answers.flush()


def _in_child(run: Callable[[Request], None], request: Request) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: run, then leave without the parent's exit handlers
        status = 1
        try:
            run(request)
            status = 0
        except BaseException:  # noqa: BLE001 - reported in the log; the parent answers with the status
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def write_outcomes(path: str, order: Sequence[str], failed: Sequence[str]) -> None:
    """The trial's outcomes, shaped as a report's ``order`` and ``failed``."""
    data = {"order": {"main": list(order)}, "failed": {"main": list(dict.fromkeys(failed))}}
    Path(path).write_text(json.dumps(data) + "\n", encoding="utf-8")
