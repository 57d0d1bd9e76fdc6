"""The isolation engine: snapshots between check points, attribution, leaks and victims.

The engine knows nothing of pytest or unittest. A front (the pytest plugin, the
Django runner) tells it three things:

* ``checkpoint(owner)``: everything that changed since the previous check point
  was done by ``owner`` (a test, or a wider scope such as a class setup or a
  module fixture while it was setting up);
* ``end_scope(scope)``: ``scope`` is over (a last check point, owned by it), so
  whatever it created and is still there is a leak;
* ``test_started(test_id)`` / ``test_failed(test_id, failure)``: the order,
  and the failures to link, on evidence, with the leaks that were live when
  they started (:mod:`django_isolation.evidence`).

Example::

    engine = Engine(checks.create(), runner="django")
    engine.start()
    test = Scope("app.tests.T.test_x", "test")
    engine.test_started(test.id)
    ...  # the test runs
    leaks = engine.end_scope(test)
    report = engine.finish()
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

from django_isolation import allow
from django_isolation.checks import Change, Check
from django_isolation.evidence import TOUCHED, Evidence, Failure
from django_isolation.origin import Frame

ScopeKind = Literal["test", "class", "module", "package", "session"]
MAIN_PROCESS: Final = "main"
SWEEP_SCOPES: Final = frozenset({"module", "package", "session"})
"""Scopes whose end is a sweep: checks look at everything, not only at what they saw change."""


class Scope(NamedTuple):
    """Something that owns state for a while: a test, or a wider setup scope.

    ``fixture`` names the pytest fixture (or ``setUpClass``/``setUpModule``)
    that created state for a wider scope, ``fixture_origin`` where it is
    defined, ``first_test`` the test whose setup set it up. ``allow`` holds
    the patterns of leaks it makes on purpose (:mod:`django_isolation.allow`).
    ``framework`` marks the test framework's own set-up (pytest-django's
    ``django_db_setup`` writing ``MIGRATION_MODULES`` under
    ``--no-migrations``): what it changes is part of the baseline.
    """

    id: str
    kind: ScopeKind
    fixture: str | None = None
    fixture_origin: Frame | None = None
    first_test: str | None = None
    allow: Iterable[str] = ()
    framework: bool = False

    @property
    def framework_class(self) -> bool:
        """A class-scoped set-up of the test framework (pytest-django's ``_django_setup_unittest``)."""
        return self.framework and self.kind == "class"


class Finding(NamedTuple):
    """A leak: state changed by ``test`` and still present when its scope ended."""

    test: str
    check: str
    summary: str
    details: dict[str, Any]
    origin: tuple[Frame, ...]
    advice: str


class IsolationLeak(Exception):
    """Raised as an error of the polluting test (or its scope) under ``--isolation-fail``."""

    @classmethod
    def of(cls, leaks: Sequence[Finding]) -> IsolationLeak:
        return cls("; ".join(f"[{leak.check}] {leak.summary}" for leak in leaks))


class Link(NamedTuple):
    """One leak a victim came near, and the evidence of it."""

    suspect: str
    leak: str
    evidence: str


class Victim(NamedTuple):
    """A failed test and the polluters whose live leaks it came near, strongest evidence first."""

    test: str
    links: tuple[Link, ...]

    @property
    def suspects(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(link.suspect for link in self.links))

    @property
    def leaks(self) -> tuple[str, ...]:
        return tuple(link.leak for link in self.links)


class Allowed(NamedTuple):
    """A leak not reported because a pattern allowed it."""

    test: str
    check: str
    summary: str
    pattern: str


class CheckError(NamedTuple):
    """A check that raised; it is switched off for the rest of the run."""

    check: str
    during: str
    error: str


@dataclass
class Report:
    """Everything a run found, ready for :mod:`django_isolation.report`."""

    runner: str
    checks: list[str]
    argv: list[str]
    cwd: str
    order: dict[str, list[str]]
    failed: dict[str, list[str]]
    findings: list[Finding]
    victims: list[Victim]
    check_errors: list[CheckError]
    allowed: list[Allowed] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    """Tests that failed while leaks were live, near none of them: no watched state explains their failure."""
    unused_allow: list[str] = field(default_factory=list)
    """The run's allow patterns (``--isolation-allow``) that matched no leak."""


class _Live:
    """A change that is present now, who made it, and its finding once judged a leak.

    (A plain class, as :class:`_Watched`: a dataclass costs about 0.2 ms to define, at every checked run.)
    """

    __slots__ = ("change", "check", "finding", "owner", "previous", "silent")

    def __init__(self, check: str, change: Change, owner: Scope, previous: _Live | None = None) -> None:
        self.check, self.change, self.owner = check, change, owner
        self.finding: int | None = None
        self.previous = previous  # the live change of another scope that this one overwrote
        self.silent = False  # judged, and no finding: allowed by a pattern, or the test framework's own set-up


class _Watched:
    """A started check; its last fingerprints, one per kind of check point (a sweep's says more)."""

    __slots__ = ("baseline", "check", "fingerprint", "fingerprint_of", "live", "sweep_fingerprint")

    def __init__(self, check: Check, baseline: Any, fingerprint: Hashable, sweep_fingerprint: Hashable) -> None:
        self.check, self.baseline = check, baseline
        self.fingerprint, self.sweep_fingerprint = fingerprint, sweep_fingerprint
        self.fingerprint_of: Callable[[bool], Hashable] = check.fingerprint  # the bound method, looked up once
        self.live: dict[str, _Live] = {}


class Engine:
    """Runs the checks at check points and keeps the ledger of live changes."""

    def __init__(
        self, checks: Sequence[Check], runner: str, worker: str = MAIN_PROCESS, allow: Sequence[str] = ()
    ) -> None:
        self._checks = list(checks)
        self._allow = tuple(allow)
        self._allowed: list[Allowed] = []
        self._runner = runner
        self._worker = worker
        self._watched: tuple[_Watched, ...] = ()  # replaced, never changed in place: a check point iterates it
        self._framework_watched: tuple[_Watched, ...] = ()  # those a framework fixture's class set-up can change
        self._waiting: dict[_Live, _Watched] = {}  # live changes not judged yet, in the order they were made
        self._order: list[str] = []
        self._failed: list[str] = []
        self._findings: list[Finding] = []
        self._victims: list[Victim] = []
        self._unexplained: list[str] = []
        self._hooks: dict[str, list[tuple[_Watched, Any]]] = {}  # optional hook name -> the checks' methods
        self._errors: list[CheckError] = []
        self._live_at_start: list[_Live] = []
        self._live_stale = False  # a live change or a finding may have changed since _live_at_start was listed
        self._broken: list[Check] = []  # switched off before the baselines

    @property
    def check_names(self) -> list[str]:
        return [check.name for check in self._checks]

    def prepare(self) -> None:
        """Let the checks that must see what the runner opens before the baselines watch it from now on.

        A front that takes the baselines late (the pytest front, after the framework's session set-up, inside the
        first test's warnings context) calls this first; a check's optional ``prepare()`` must be cheap.
        """
        for check in self._checks:
            try:
                prepare = getattr(check, "prepare", None)
                if prepare is not None:
                    prepare()
            except Exception:  # noqa: BLE001 - a broken check must not break the test run
                self._record_error(check, "prepare")
                self._broken.append(check)
                self._stop(check)

    def start(self) -> None:
        """Take the session baseline of every check."""
        watched = []
        for check in self._checks:
            if check in self._broken:
                continue
            try:
                check.start()
                baseline, fingerprints = check.capture(), (check.fingerprint(False), check.fingerprint(True))
                watched.append(_Watched(check, baseline, *fingerprints))
            except Exception:  # noqa: BLE001 - a broken check must not break the test run
                self._record_error(check, "start")
        self._set_watched(tuple(watched))

    def _set_watched(self, watched: tuple[_Watched, ...]) -> None:
        self._watched = watched
        self._live_stale = True
        self._framework_watched = tuple(w for w in watched if not getattr(w.check, "first_party_only", False))
        self._hooks.clear()  # looked up again for these checks

    def checkpoint(self, owner: Scope, sweep: bool = False, framework_class: bool = False) -> None:
        """Attribute every change since the previous check point to `owner`.

        A clean check point is one fingerprint call a check and a comparison: no other frame, nothing allocated.
        A point is compared with the last point of its kind: a sweep's fingerprint says more than another point's,
        so comparing one kind with the other would see a move at each point after a sweep.
        `framework_class`: the point opens or closes a class-scoped fixture of the test framework (pytest-django's
        ``_django_setup_unittest``, once per unittest class), which runs none of the project's code: checks that
        watch only state of the project's code (``first_party_only = True``) are not asked there.
        """
        if sweep:
            self._sweep(owner)
            return
        for watched in self._framework_watched if framework_class else self._watched:
            try:
                fingerprint = watched.fingerprint_of(False)
                if fingerprint != watched.fingerprint:
                    watched.fingerprint = fingerprint
                    self._observe(watched, owner)
            except Exception:  # noqa: BLE001 - a broken check must not break the test run
                self._drop(watched, "checkpoint")

    def _sweep(self, owner: Scope) -> None:
        """A check point where every check looks at everything; both of its fingerprints are brought up to date."""
        for watched in self._watched:
            try:
                fingerprint, sweep_fingerprint = watched.fingerprint_of(False), watched.fingerprint_of(True)
                if fingerprint != watched.fingerprint or sweep_fingerprint != watched.sweep_fingerprint:
                    watched.fingerprint, watched.sweep_fingerprint = fingerprint, sweep_fingerprint
                    self._observe(watched, owner)
            except Exception:  # noqa: BLE001 - a broken check must not break the test run
                self._drop(watched, "checkpoint")

    def end_scope(self, scope: Scope) -> list[Finding]:
        """Take the last check point of `scope` (a sweep for modules and wider) and judge what it left behind.

        Returns the new leaks.
        """
        self.checkpoint(scope, scope.kind in SWEEP_SCOPES, scope.framework_class)
        return self._judge(scope)

    def _judge(self, scope: Scope) -> list[Finding]:
        """Make findings of what `scope` left; changes of one cause (``Change.cause``) are one finding."""
        if not self._waiting:
            return []  # no change waits for a judgement: a clean scope
        judged = self._take_waiting(scope)
        if not judged:
            return []
        self._live_stale = True
        new: list[Finding] = []
        by_cause: dict[str, int] = {}
        for live in sorted(judged, key=_explains_its_cause, reverse=True):
            if scope.framework:
                live.silent = True
                continue
            pattern = allow.matching((*scope.allow, *self._allow), live.check, live.change.key)
            if pattern is not None:
                live.silent = True
                self._allowed.append(Allowed(scope.id, live.check, live.change.summary, pattern))
                continue
            cause = live.change.cause
            if cause is not None and cause in by_cause:
                live.finding = by_cause[cause]
                self._also_seen(live)
                continue
            live.finding = len(self._findings)
            self._findings.append(_finding(live))
            new.append(self._findings[-1])
            if cause is not None:
                by_cause[cause] = live.finding
        return new

    def _take_waiting(self, scope: Scope) -> list[_Live]:
        """Remove from the waiting changes those `scope` owns (and those no longer live); return the former."""
        judged = []
        for live, watched in list(self._waiting.items()):
            if watched.live.get(live.change.key) is not live or not _unjudged(live):
                del self._waiting[live]  # restored, replaced, or its check dropped
            elif live.owner == scope:
                del self._waiting[live]
                judged.append(live)
        return judged

    def _also_seen(self, live: _Live) -> None:
        """Add `live` to the finding of its cause, as another view of the same leak."""
        assert live.finding is not None
        leak = self._findings[live.finding]
        also = [*leak.details.get("same_cause", []), f"{live.check}: {live.change.summary}"]
        self._findings[live.finding] = leak._replace(details={**leak.details, "same_cause": also})

    def release(self) -> None:
        """A test database is about to be destroyed: checks let go of their connections."""
        self._notify("release")

    def test_started(self, test_id: str, module: str | None = None) -> None:
        """Record `test_id` in the run order and the leaks live as it starts; `module` defines the test.

        The checks' ``test_started`` hooks (they forget the previous test's evidence) are called only while a leak
        is live: a failure is linked on evidence only to the leaks live at its test's start.
        """
        self._order.append(test_id)
        if self._live_stale and self._findings:  # listed again only after something moved or was judged
            self._live_at_start = [live for w in self._watched for live in w.live.values() if live.finding is not None]
            self._live_stale = False
        if self._live_at_start:  # evidence is asked for (test_failed) only while a leak is live
            self._notify("test_started")
        self._notify("test_module", module)

    def _notify(self, hook: str, *args: Any) -> None:
        """Call the optional method `hook` of every check that has one (looked up once per hook)."""
        hooks = self._hooks.get(hook)
        if hooks is None:
            hooks = self._hooks[hook] = [(w, m) for w in self._watched if (m := getattr(w.check, hook, None))]
        for watched, method in hooks:
            try:
                method(*args)
            except Exception:  # noqa: BLE001 - a broken check must not break the test run
                self._drop(watched, hook)

    def test_failed(self, test_id: str, failure: Failure | None = None) -> None:
        """Record that `test_id` failed, and link it to the live leaks it came near (:mod:`django_isolation.evidence`).

        Suspects come strongest evidence first; a failure near none of the
        live leaks is recorded as unexplained.
        """
        if test_id in self._failed:
            return
        self._failed.append(test_id)
        failure = failure or Failure("", ())
        found: list[tuple[Evidence, Finding]] = []
        linked: set[int] = set()
        for live in self._live_at_start:
            evidence = self._evidence(live, failure)
            if evidence is not None and live.finding is not None and live.finding not in linked:
                linked.add(live.finding)
                found.append((evidence, self._findings[live.finding]))
        if not found:
            if self._live_at_start:
                self._unexplained.append(test_id)
            return
        found.sort(key=lambda pair: pair[0].rank)  # stable: within a rank, in the order the leaks were made
        rank = {suspect: number for number, suspect in enumerate(dict.fromkeys(f.test for _, f in found))}
        found.sort(key=lambda pair: rank[pair[1].test])  # nested per suspect, the suspect of the best evidence first
        links = tuple(Link(f.test, f"{f.check}: {f.summary}", e.text) for e, f in found)
        self._victims.append(Victim(test_id, links))

    def _evidence(self, live: _Live, failure: Failure) -> Evidence | None:
        """What shows that the failed test came near `live`: its failure names it, or the check saw it touch it."""
        named = failure.naming(live.change.subjects)
        if named is not None:
            return named
        watched = next((w for w in self._watched if w.check.name == live.check), None)
        touched = getattr(watched.check, "touched", None) if watched is not None else None
        if watched is None or touched is None:
            return None
        try:
            text = touched(live.change)
        except Exception:  # noqa: BLE001 - a broken check must not break the test run
            self._drop(watched, "touched")  # reported and switched off, as for its other hooks
            return None
        return Evidence(TOUCHED, text) if text else None

    def finish(self) -> Report:
        """Judge what is still live, stop the checks and return the report."""
        while self._waiting:
            self._judge(next(iter(self._waiting)).owner)
        for watched in self._watched:
            self._stop(watched.check)
        return self.snapshot()

    def snapshot(self) -> Report:
        """The report of what was judged so far; the checks go on (a ``--parallel`` worker's, after each class)."""
        used = {allowed.pattern for allowed in self._allowed}
        return Report(
            runner=self._runner,
            checks=self.check_names,
            argv=list(sys.argv),
            cwd=os.getcwd(),
            order={self._worker: list(self._order)},
            failed={self._worker: list(self._failed)},
            findings=list(self._findings),
            victims=list(self._victims),
            check_errors=list(self._errors),
            allowed=list(self._allowed),
            unexplained=list(self._unexplained),
            unused_allow=[pattern for pattern in self._allow if pattern not in used],
        )

    def _observe(self, watched: _Watched, owner: Scope) -> None:
        """The fingerprint of `watched` moved: bring its live changes up to date, new ones owned by `owner`."""
        current = {c.key: c for c in watched.check.diff(watched.baseline, watched.check.capture())}
        self._live_stale = True
        for key in [key for key in watched.live if key not in current]:
            self._restored(watched.live.pop(key), owner)
        for key, change in current.items():
            live = watched.live.get(key)
            if live is not None and live.change.token == change.token:
                continue
            previous = None if live is None else live.previous if live.owner == owner else live
            if previous is not None and previous.change.token == change.token:
                watched.live[key] = previous  # back to what another scope left (A, B, A): still its leak
                if _unjudged(previous):
                    self._waiting[previous] = watched
            else:
                live = watched.live[key] = _Live(watched.check.name, change, owner, previous=previous)
                self._waiting[live] = watched

    def _restored(self, live: _Live, cleaner: Scope) -> None:
        if live.finding is not None and cleaner.id != live.owner.id:
            leak = self._findings[live.finding]
            self._findings[live.finding] = leak._replace(details={**leak.details, "cleaned_by": cleaner.id})

    def _drop(self, watched: _Watched, during: str) -> None:
        self._record_error(watched.check, during)
        self._set_watched(tuple(w for w in self._watched if w is not watched))
        watched.live.clear()  # its changes are no longer judged
        self._stop(watched.check)

    def _stop(self, check: Check) -> None:
        try:
            check.stop()
        except Exception:  # noqa: BLE001 - a broken check must not break the test run
            self._record_error(check, "stop")

    def _record_error(self, check: Check, during: str) -> None:
        error = "".join(traceback.format_exception_only(*sys.exc_info()[:2])).strip()
        self._errors.append(CheckError(check.name, during, error))


def _unjudged(live: _Live) -> bool:
    return live.finding is None and not live.silent


def _explains_its_cause(live: _Live) -> bool:
    """Whether `live` is the change of the check its cause names (``timezone:TZ``): the one to report."""
    cause = live.change.cause
    return cause is not None and cause.partition(":")[0] == live.check


def _finding(live: _Live) -> Finding:
    change, owner = live.change, live.owner
    details: dict[str, Any] = {**change.details, "before": change.before, "after": change.after}
    if live.previous:
        details["before"] = live.previous.change.after
        details["replaces_state_of"] = live.previous.owner.id
    details["scope"] = owner.kind
    if owner.fixture:
        details["fixture"] = owner.fixture
    if owner.fixture_origin:
        details["fixture_origin"] = str(owner.fixture_origin)
    if owner.first_test:
        details["first_test"] = owner.first_test
    return Finding(owner.id, live.check, change.summary, details, change.origin, change.advice)
