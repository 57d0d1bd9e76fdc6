"""``django-isolation find-polluter``: from a victim in a report to the test(s) whose run before it makes it fail.

Every trial is an exact replay (``--isolation-replay``) of some tests of the
victim's own process, in the order the report recorded, then the victim; it
is judged by the victim's own outcome only. :func:`find`:

1. **evidence first**: each suspect the report linked to the victim, alone
   before it (one run each); a suspect that makes it fail is the polluter;
2. **confirms** that the victim passes alone (else it is not
   order-dependent, exit 3);
3. **bisection** of the tests that ran before it in its process: one run per
   half, the first half kept when the victim fails after it, the second taken
   otherwise (not run); the test it ends on is run before the victim unless a
   run showed it already. A polluter found so proves that the failure
   reproduces;
4. otherwise the victim after all those tests: if it passes, the failure does
   not reproduce in one process (exit 4); if it fails, **delta debugging**
   for two tests that only pollute together, or a cleaner that undid a
   polluter inside a half: first a pair, one in each half of the fewest tests
   a run showed the outcome after, each half halved in turn with the other
   kept; if no pair shows it, one needed test a round (the shortest start of
   the tests that, with those kept, shows the outcome ends on one), until the
   kept tests show it alone; Zeller's ddmin then makes the set 1-minimal. Every result is cached; a subset keeps the recorded
   relative order.

``--brittle`` turns the outcome round: the victim fails alone and passes
after the tests before it; what is found is the state-setter it relies on.
The test databases are built by the first trial, copied, put back before each
later one, and dropped at the end (``--isolation-gate-database``); the last
step is a process that runs no test.

The command's last line with ``--json``::

    {"victim": ..., "polluters": [...], "cleaners": [...], "runs": N, "seconds": S, "reproduce": "<command>",
     "status": EXIT, "message": "..."}
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final, Protocol

from django_isolation.gate import DatabaseUse, RunFiles, read_json
from django_isolation.gate_run import write_replay

EXIT_FOUND: Final = 0
EXIT_NOT_FOUND: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_ORDER_DEPENDENT: Final = 3
EXIT_NOT_REPRODUCIBLE: Final = 4
TRIAL_CHECKS: Final = "cwd"
"""The check a trial runs: any check gives the report its order and failures; this one costs one getcwd()."""
DEFAULT_OUTPUT: Final = "isolation-polluter"


class TrialError(Exception):
    """A trial did not run the tests it was given (a collection error, a crash): the search cannot judge it."""


class TrialFront(Protocol):
    """Builds the command line of a trial for one runner."""

    runner: str

    def trial_command(self, files: RunFiles, database: DatabaseUse) -> list[str]:
        """Run exactly the tests of ``files.replay`` with a report at ``files.report``."""

    def server_command(self, replay: Path, channel: str) -> list[str]:
        """Load the tests `replay` lists once and run each trial asked on `channel` in a forked child
        (:mod:`django_isolation.replay_server`)."""

    def reproduce_command(self, replay: Path) -> list[str]:
        """The command a person runs to see the victim's outcome after the tests `replay` lists."""


@dataclass(frozen=True)
class Invocation:
    """How the report's run was started: its runner, command line and directory."""

    runner: str
    argv: list[str]
    cwd: str

    @classmethod
    def of(cls, report: dict[str, Any]) -> Invocation:
        invocation = report.get("invocation") or {}
        return cls(str(report.get("runner")), list(invocation.get("argv") or []), str(invocation.get("cwd") or "."))


# Options of the recorded run a trial leaves out, with whether each takes a value: the toolkit's own (a trial
# sets them), those that reorder, split or stop a run, and those that point at the user's files.
PYTEST_DROPPED: Final = {
    "--isolation-check": False, "--isolation-fail": False, "--isolation-report": True, "--isolation-checks": True,
    "--isolation-allow": True, "--isolation-order": True, "--isolation-replay": True,
    "--isolation-gate-survey": True, "--isolation-gate-database": True, "--isolation-gate-probe": True,
    "-n": True, "--numprocesses": True, "--dist": True, "--maxprocesses": True, "--max-worker-restart": True,
    "--tx": True, "--randomly-seed": True, "-x": False, "--exitfirst": False, "--maxfail": True,
    "--lf": False, "--last-failed": False, "--ff": False, "--failed-first": False, "--sw": False,
    "--stepwise": False, "--pdb": False, "--trace": False, "--create-db": False, "--reuse-db": False,
    "--junitxml": True, "--junit-xml": True,
}  # fmt: skip
DJANGO_DROPPED: Final = {
    "--isolation-check": False, "--isolation-fail": False, "--isolation-report": True, "--isolation-checks": True,
    "--isolation-allow": True, "--isolation-replay": True, "--isolation-gate-survey": True,
    "--isolation-gate-database": True, "--reverse": False, "-r": False, "--failfast": False, "--keepdb": False,
    "--noinput": False, "--no-input": False, "--pdb": False,
}  # fmt: skip
OPTIONAL_VALUES: Final[dict[str, Callable[[str], bool]]] = {
    "--parallel": lambda word: word == "auto" or word.isdigit(),
    "--shuffle": str.isdigit,
}
"""Django's options whose value may be left out: dropped with the next word when it is their value."""


def kept_arguments(argv: Sequence[str], dropped: dict[str, bool]) -> list[str]:
    """`argv` without the options in `dropped` or :data:`OPTIONAL_VALUES` (``--opt VALUE``, ``--opt=VALUE``,
    ``-nVALUE``) and their values."""
    kept: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        name, joined = word.partition("=")[0], "=" in word
        index += 1
        if name in OPTIONAL_VALUES:
            if not joined and index < len(argv) and OPTIONAL_VALUES[name](argv[index]):
                index += 1
        elif name in dropped:
            if dropped[name] and not joined:
                index += 1
        elif not (len(word) > 2 and not word.startswith("--") and dropped.get(word[:2])):  # -n4
            kept.append(word)
    return kept


class PytestTrials:
    """Trials through ``python -m pytest`` with the recorded arguments, one process, no reordering plugin."""

    runner = "pytest"
    DATABASE: Final = {
        "first": ["--reuse-db", "--create-db"], "reuse": ["--reuse-db"], "last": ["--reuse-db"], "drop": [],
    }  # fmt: skip

    def __init__(self, invocation: Invocation, arguments: list[str] | None = None) -> None:
        self.arguments = kept_arguments(invocation.argv[1:], PYTEST_DROPPED) if arguments is None else arguments
        self._serial = ["-n", "0"] if find_spec("xdist") is not None else []  # an ini's -n would split the trial

    def trial_command(self, files: RunFiles, database: DatabaseUse) -> list[str]:
        options = [*self.DATABASE[database], f"--isolation-gate-database={database}"]
        if database != "drop":
            options += ["--isolation-checks", TRIAL_CHECKS, f"--isolation-report={files.report}"]
        return [*self._pytest(), f"--isolation-replay={files.replay}", *options, *self.arguments]

    def server_command(self, replay: Path, channel: str) -> list[str]:
        server = [f"--isolation-replay={replay}", f"--isolation-replay-server={channel}"]
        return [*self._pytest(), *server, "--reuse-db", "--isolation-gate-database=reuse", *self.arguments]

    def reproduce_command(self, replay: Path) -> list[str]:
        return [*self._pytest(), f"--isolation-replay={replay}", *self.arguments]

    def _pytest(self) -> list[str]:
        return [sys.executable, "-m", "pytest", "-p", "no:randomly", *self._serial]


class DjangoTrials:
    """Trials through the recorded ``manage.py test`` (its labels and options), one process, kept database."""

    runner = "django"

    def __init__(self, invocation: Invocation, arguments: list[str] | None = None) -> None:
        argv = invocation.argv
        if "test" not in argv:
            raise ValueError(f"the report's command line is not a test command: {shlex.join(argv)}")
        at = argv.index("test")
        self.program = [sys.executable, *argv[:at], "test"]
        self.arguments = kept_arguments(argv[at + 1 :], DJANGO_DROPPED) if arguments is None else arguments

    def trial_command(self, files: RunFiles, database: DatabaseUse) -> list[str]:
        options = ["--noinput", "--keepdb", "--parallel", "1", f"--isolation-gate-database={database}"]
        if database != "drop":
            options += ["--isolation-checks", TRIAL_CHECKS, f"--isolation-report={files.report}"]
        return [*self.program, *self.arguments, f"--isolation-replay={files.replay}", *options]

    def server_command(self, replay: Path, channel: str) -> list[str]:
        server = [f"--isolation-replay={replay}", f"--isolation-replay-server={channel}"]
        return [*self.program, *self.arguments, *server, "--noinput", "--keepdb", "--parallel", "1"]

    def reproduce_command(self, replay: Path) -> list[str]:
        return [*self.program, *self.arguments, "--parallel", "1", f"--isolation-replay={replay}"]


def trials_front(invocation: Invocation, arguments: list[str] | None = None) -> TrialFront:
    """The front of the report's runner."""
    if invocation.runner == "pytest":
        return PytestTrials(invocation, arguments)
    if invocation.runner == "django":
        return DjangoTrials(invocation, arguments)
    raise ValueError(f"the report's runner {invocation.runner!r} is neither pytest nor django")


@dataclass
class Trials:
    """Runs the victim after chosen tests, each set once (cached), numbered and announced."""

    front: TrialFront
    victim: str
    cwd: str
    output: Path
    progress: Callable[[str], None]
    estimate: Callable[[], str] = lambda: "?"
    universe: list[str] = field(default_factory=list)  # every test a trial may run before the victim
    forking: bool = hasattr(os, "fork")  # one process loads the tests; a forked child runs each trial
    runs: int = 0
    started: float = field(default_factory=time.monotonic)
    results: dict[tuple[str, ...], bool] = field(default_factory=dict)  # tests before the victim -> it failed
    _server: _Server | None = None

    def failed_after(self, tests: Sequence[str]) -> bool:
        """Whether the victim fails when exactly `tests` run before it, in that order."""
        key = tuple(tests)
        if key not in self.results:
            self.results[key] = self._run(list(key))
        return self.results[key]

    def known(self, tests: Sequence[str]) -> bool | None:
        return self.results.get(tuple(tests))

    def _run(self, tests: list[str]) -> bool:
        self.runs += 1
        self.progress(
            f"django-isolation find-polluter: run {self.runs} of at most {self.estimate()}: "
            f"the victim after {len(tests)} test(s) ({self.elapsed:.0f} s elapsed)"
        )
        files = self._files(f"run-{self.runs}", [*tests, self.victim])
        database: DatabaseUse = "first" if self.runs == 1 else "reuse"
        ended = self._trial(files, database, [*tests, self.victim])
        report = read_json(files.report)
        if report is None:
            raise TrialError(f"run {self.runs} {ended} without a report")
        ran = [test for order in report.get("order", {}).values() for test in order]
        if ran != [*tests, self.victim]:
            raise TrialError(f"run {self.runs} did not run exactly the tests it was given; it {ended}")
        return self.victim in {test for failed in report.get("failed", {}).values() for test in failed}

    def _trial(self, files: RunFiles, database: DatabaseUse, tests: list[str]) -> str:
        """Run `tests` (listed in ``files.replay``); how it ended and where its output is."""
        if not self.forking:
            return f"exited {self._execute(files, database)} (see {files.log})"
        if self._server is None:
            self._server = _Server(self.front, [*self.universe, self.victim], self.output, self.cwd)
        status = self._server.ask({"tests": tests, "database": database, "result": str(files.report)})
        return f"ended with status {status} (see {self._server.log})"

    def drop_databases(self) -> None:
        """The last step, which runs no test: drop the test databases and their copies."""
        if self._server is not None:
            self._server.ask({"database": "drop"})
            self._server.stop()
        elif self.runs:
            self._execute(self._files("drop", []), "drop")

    def _files(self, slug: str, tests: list[str]) -> RunFiles:
        files = RunFiles(self.output / slug)
        files.directory.mkdir(parents=True, exist_ok=True)
        files.report.unlink(missing_ok=True)
        write_replay(files.replay, tests)
        return files

    def _execute(self, files: RunFiles, database: DatabaseUse) -> int:
        command = self.front.trial_command(files, database)
        with files.log.open("w", encoding="utf-8") as log:
            log.write(f"$ {shlex.join(command)}\n")
            log.flush()
            return subprocess.run(command, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT, check=False).returncode

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class _Server:
    """The process that loaded the tests once and forks a child per trial (``--isolation-replay-server``)."""

    def __init__(self, front: TrialFront, tests: list[str], output: Path, cwd: str) -> None:
        replay, self.log = output / "server-tests.txt", output / "server.log"
        write_replay(replay, tests)
        to_server, self._requests_fd = os.pipe()
        self._answers_fd, from_server = os.pipe()
        command = front.server_command(replay, f"{to_server}:{from_server}")
        with self.log.open("w", encoding="utf-8") as log:
            log.write(f"$ {shlex.join(command)}\n")
            log.flush()
            self._process = subprocess.Popen(
                command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, pass_fds=(to_server, from_server)
            )
        os.close(to_server)
        os.close(from_server)
        self._requests = os.fdopen(self._requests_fd, "w", encoding="utf-8")
        self._answers = os.fdopen(self._answers_fd, "r", encoding="utf-8")

    def ask(self, request: dict[str, Any]) -> int:
        """Send `request`; the status of the child that ran it. TrialError when the server is gone."""
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
        except BrokenPipeError:
            raise TrialError(f"the trials' process ended before a trial; see {self.log}") from None
        answer = self._answers.readline()
        if not answer:
            raise TrialError(f"the trials' process ended during a trial; see {self.log}")
        return int(json.loads(answer)["status"])

    def stop(self) -> None:
        try:
            self._requests.write(json.dumps({"stop": True}) + "\n")
            self._requests.close()
        except BrokenPipeError:
            pass
        self._answers.close()
        self._process.wait(timeout=60)


@dataclass
class Result:
    """What the search found, and how it ended."""

    victim: str
    status: int
    message: str
    brittle: bool = False
    polluters: list[str] = field(default_factory=list)
    cleaners: list[str] = field(default_factory=list)
    runs: int = 0
    seconds: float = 0.0
    reproduce: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "victim": self.victim,
            "polluters": self.polluters,
            "cleaners": self.cleaners,
            "runs": self.runs,
            "seconds": round(self.seconds, 1),
            "reproduce": self.reproduce,
            "status": self.status,
            "message": self.message,
        }


class Search:
    """Finds a smallest set of the prefix's tests after which the victim has the outcome to explain."""

    def __init__(self, trials: Trials, prefix: list[str], brittle: bool) -> None:
        self.trials = trials
        self.prefix = prefix
        self._position = {test: index for index, test in enumerate(prefix)}  # the recorded order, looked up
        self.brittle = brittle  # explain a pass after the prefix (state-setter), not a failure (polluter)
        self.left = len(prefix)  # tests the search has not ruled out yet
        self.pending = 1  # confirmations not run yet: the victim alone
        self.debugging = False
        self.smallest = prefix  # the fewest tests a run showed the outcome after (once one did)
        trials.estimate = self.estimate

    def shows(self, tests: Sequence[str]) -> bool:
        """Whether the victim has the outcome to explain after `tests` (kept in the prefix's order)."""
        ordered = sorted(tests, key=self._position.__getitem__)
        return self.trials.failed_after(ordered) != self.brittle

    def known(self, tests: Sequence[str]) -> bool:
        result = self.trials.known(sorted(tests, key=self._position.__getitem__))
        return result is not None and result != self.brittle

    def estimate(self) -> str:
        """The most runs the search can take, the running one included: the confirmations left, then one run per
        halving and one to check the test it ends on; delta debugging's bound grows with the tests left."""
        if self.debugging:
            return str(self.trials.runs - 1 + self.left * (max(self.left - 1, 0).bit_length() + 1))
        return str(self.trials.runs - 1 + self.pending + max(self.left - 1, 0).bit_length() + 1)

    def bisect(self) -> list[str] | None:
        """One run per half, the first half kept when it shows the outcome, the second taken otherwise (as the
        whole would); the test it ends on if a run shows it makes the victim show the outcome, else None."""
        candidates, shown = self.prefix, self.known(self.prefix)
        while len(candidates) > 1:
            self.left = len(candidates)
            first, second = candidates[: len(candidates) // 2], candidates[len(candidates) // 2 :]
            candidates, shown = (first, True) if self.shows(first) else (second, self.known(second))
            if shown:
                self.smallest = candidates
        self.left = len(candidates)
        return candidates if candidates and (shown or self.shows(candidates)) else None

    def pair(self) -> list[str] | None:
        """Two tests that show the outcome only together, one in each half of the fewest tests a run showed it
        after: each half is halved in turn, the other kept whole, the half kept that still shows it (the other
        taken otherwise); the pair if a run shows it does, else None. Runs shrink as the halves do."""
        shown = self.smallest
        parts = [shown[: len(shown) // 2], shown[len(shown) // 2 :]]
        if not all(parts):
            return None
        self.debugging = True
        while any(len(part) > 1 for part in parts):
            for index in (0, 1):
                part, other = parts[index], parts[1 - index]
                self.left = len(parts[0]) + len(parts[1])
                if len(part) > 1:
                    first, second = part[: len(part) // 2], part[len(part) // 2 :]
                    parts[index] = first if self.shows([*first, *other]) else second
        return [*parts[0], *parts[1]] if self.shows([*parts[0], *parts[1]]) else None

    def needed(self) -> list[str]:
        """Tests of the prefix the outcome needs, found one a round: the shortest start of the candidates that,
        with the tests found so far, shows the outcome ends on one (a binary search)."""
        self.debugging = True
        candidates, found = self.prefix, []  # invariant: candidates + found show the outcome
        while not self.shows(found):
            self.left = len(candidates)
            low, high = 0, len(candidates)  # candidates[:low] + found does not show the outcome; [:high] does
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if self.shows([*candidates[:middle], *found]) else (middle, high)
            found.insert(0, candidates[high - 1])
            candidates = candidates[: high - 1]
        return found

    def ddmin(self, items: list[str], holds: Callable[[list[str]], bool] | None = None) -> list[str]:
        """Zeller's ddmin: a 1-minimal subset of `items` for which `holds` (default: shows the outcome) is true,
        as it is for `items`."""
        holds = holds or self.shows
        self.debugging, granularity = True, 2
        while len(items) >= 2:
            self.left = len(items)
            chunks = _split(items, granularity)
            reduced = next((chunk for chunk in chunks if holds(chunk)), None)
            if reduced is not None:
                items, granularity = reduced, 2
                continue
            if granularity > 2:
                complements = ([test for test in items if test not in left_out] for left_out in map(set, chunks))
                reduced = next((rest for rest in complements if holds(rest)), None)
                if reduced is not None:
                    items, granularity = reduced, max(granularity - 1, 2)
                    continue
            if granularity >= len(items):
                break
            granularity = min(2 * granularity, len(items))
        return items

    def cleaners(self, culprits: list[str]) -> list[str]:
        """Tests that a run of the search held with `culprits` and that undid them (the run did not show the
        outcome), narrowed to a smallest such set; none when no run showed one."""
        evidence = [tests for tests, failed in self.trials.results.items() if failed == self.brittle]
        holding = [tests for tests in evidence if set(culprits) <= set(tests)]
        if not holding:
            return []
        suspects = [test for test in min(holding, key=len) if test not in culprits]
        return self.ddmin(suspects, lambda chosen: not self.shows([*culprits, *chosen]))


def _split(items: list[str], parts: int) -> list[list[str]]:
    """`items` in `parts` consecutive chunks of nearly equal size."""
    size, extra = divmod(len(items), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(items[start:end])
        start = end
    return [chunk for chunk in chunks if chunk]


def find(search: Search, suspects: Sequence[str]) -> Result:
    """Evidence first, then confirm, bisect and delta-debug; the result says how it ended."""
    victim = search.trials.victim
    for suspect in (test for test in suspects if test in search.prefix):
        if search.shows([suspect]):
            if search.shows([]):
                return _ended(search, EXIT_NOT_ORDER_DEPENDENT, _alone_message(search.brittle))
            return _found(search, [suspect], "the report's suspect")
    if search.shows([]):
        return _ended(search, EXIT_NOT_ORDER_DEPENDENT, _alone_message(search.brittle))
    search.pending = 0
    culprits, how = search.bisect(), "bisection"
    if culprits is None:  # the prefix as a whole is run only now: a polluter bisection found proves it fails
        if not search.shows(search.prefix):
            outcome = "passes" if not search.brittle else "fails"
            return _ended(
                search,
                EXIT_NOT_REPRODUCIBLE,
                f"{victim} {outcome} after the {len(search.prefix)} test(s) that ran before it in its process: the "
                "outcome did not reproduce in one process (it may need the worker layout, timing or outside state)",
            )
        culprits, how = search.pair() or search.needed(), "delta debugging"
        culprits = search.ddmin(culprits)
    return _found(search, culprits, how)


def _alone_message(brittle: bool) -> str:
    if brittle:
        return "the victim passes alone: it does not need another test to run first (not brittle)"
    return "the victim fails alone: its failure does not depend on the tests before it (not order-dependent)"


def _found(search: Search, culprits: list[str], how: str) -> Result:
    kind = "state-setter(s)" if search.brittle else "polluter(s)"
    result = _ended(search, EXIT_FOUND, f"found {len(culprits)} {kind} by {how}")
    result.polluters = culprits
    result.cleaners = search.cleaners(culprits)
    result.runs = search.trials.runs
    return result


def _ended(search: Search, status: int, message: str) -> Result:
    return Result(search.trials.victim, status, message, search.brittle, runs=search.trials.runs)


def victim_process(report: dict[str, Any], victim: str, worker: str | None) -> tuple[str, list[str]]:
    """The worker whose process ran `victim` and the tests it ran before it; ValueError says why there is none."""
    orders: dict[str, list[str]] = report.get("order") or {}
    if worker is not None:
        if worker not in orders:
            raise ValueError(f"the report has no worker {worker!r} (it has {', '.join(orders) or 'none'})")
        if victim not in orders[worker]:
            raise ValueError(f"{victim} did not run on worker {worker}")
        chosen = [worker]
    else:
        chosen = [name for name, tests in orders.items() if victim in tests]
    if not chosen:
        raise ValueError(f"{victim} is not in the report's order")
    if len(chosen) > 1:
        raise ValueError(f"{victim} ran on several workers ({', '.join(chosen)}): say which with --worker")
    tests = orders[chosen[0]]
    return chosen[0], tests[: tests.index(victim)]


def suspects_of(report: dict[str, Any], victim: str, worker: str) -> list[str]:
    """The polluters the report linked to `victim` on evidence, strongest first."""
    for entry in report.get("victims") or []:
        if entry.get("test") == victim and entry.get("worker", worker) == worker:
            return list(entry.get("suspects") or [])
    return []


def run(
    report: dict[str, Any],
    victim: str,
    worker: str | None,
    brittle: bool,
    output: Path,
    arguments: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    fork: bool = True,
) -> Result:
    """Find the polluter (or with `brittle` the state-setter) of `victim` from `report`; write runs to `output`."""
    invocation = Invocation.of(report)
    front = trials_front(invocation, arguments)
    worker, prefix = victim_process(report, victim, worker)
    output = output.resolve()
    trials = Trials(front, victim, invocation.cwd, output, progress or _to_stderr, universe=prefix)
    trials.forking = fork and trials.forking
    search = Search(trials, prefix, brittle)
    try:
        result = find(search, [] if brittle else suspects_of(report, victim, worker))
    finally:
        trials.drop_databases()
    result.seconds = trials.elapsed
    if result.status == EXIT_FOUND:
        replay = output / "reproduce.txt"
        write_replay(replay, [*result.polluters, victim])
        result.reproduce = shlex.join(front.reproduce_command(replay))
    return result


def summary_lines(result: Result) -> list[str]:
    """What a person reads at the end."""
    lines = [f"django-isolation find-polluter: {result.victim}: {result.message}"]
    if result.status == EXIT_FOUND:
        kind = "state-setter" if result.brittle else "polluter"
        lines += [f"  {kind}: {test}" for test in result.polluters]
        lines += [f"  cleaner: {test}" for test in result.cleaners]
        lines.append(f"  reproduce: {result.reproduce}")
    lines.append(f"  {result.runs} run(s), {result.seconds:.1f} s")
    return lines


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
