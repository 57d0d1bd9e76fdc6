"""The options both fronts share: one name, one ``dest``, one environment variable each.

Precedence is command-line option, then environment variable, then (pytest
only) the ini file; :func:`resolve` also says where each value came from, so
the run's header can print it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

EXIT_LEAKS_ONLY: Final = 10
"""Exit status when ``--isolation-fail`` is on and isolation leaks are the only failures.

CPython's regrtest uses 3 (ENV_CHANGED) for this, but pytest's ``ExitCode``
takes 0-6 (6: ``MAX_WARNINGS_ERROR``, pytest 9.2), Django's runner exits 1
for failures and argparse 2 for usage errors; 10 is none of them.
"""

GATE_DATABASE_USES: Final = ("first", "reuse", "last", "drop")
"""``--isolation-gate-database``'s values (:mod:`django_isolation.gate_run`)."""

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})


class Option(NamedTuple):
    """One option as both fronts spell it."""

    flag: str
    dest: str
    env: str
    help: str
    metavar: str | None = None

    @property
    def is_flag(self) -> bool:
        return self.metavar is None

    @property
    def ini(self) -> str:
        return self.dest


CHECK: Final = Option(
    "--isolation-check",
    "isolation_check",
    "DJANGO_ISOLATION_CHECK",
    "snapshot shared state around every test and report the tests that leave it changed",
)
REPORT: Final = Option(
    "--isolation-report",
    "isolation_report",
    "DJANGO_ISOLATION_REPORT",
    "write the isolation report as JSON to PATH (implies --isolation-check)",
    metavar="PATH",
)
FAIL: Final = Option(
    "--isolation-fail",
    "isolation_fail",
    "DJANGO_ISOLATION_FAIL",
    f"report each leak as an error of the polluting test and exit non-zero ({EXIT_LEAKS_ONLY} when leaks "
    "are the only failures; implies --isolation-check)",
)
CHECKS: Final = Option(
    "--isolation-checks",
    "isolation_checks",
    "DJANGO_ISOLATION_CHECKS",
    "the checks to run: comma-separated names, or 'all' (default: the default checks; implies --isolation-check)",
    metavar="NAMES",
)
ALLOW: Final = Option(
    "--isolation-allow",
    "isolation_allow",
    "DJANGO_ISOLATION_ALLOW",
    "leaks not to report: comma-separated CHECK or CHECK:KEY-GLOB (e.g. environ:CI_*, django_settings:DEBUG)",
    metavar="PATTERNS",
)
OPTIONS: Final = (CHECK, REPORT, FAIL, CHECKS, ALLOW)


class Settings(NamedTuple):
    """Resolved options; ``sources`` maps each set ``dest`` to where it was set."""

    check: bool = False
    report: str | None = None
    fail: bool = False
    checks: str | None = None
    allow: str | None = None
    sources: Mapping[str, str] = MappingProxyType({})  # shared, and read-only

    @property
    def enabled(self) -> bool:
        return self.check or self.fail or self.report is not None or self.checks is not None


def parse_bool(text: str, where: str) -> bool:
    """Read a boolean from an environment variable or ini value."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{where}: expected one of 1/0, true/false, yes/no, on/off; got {text!r}")


def resolve(
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Callable[[str], str | None] = lambda name: None,
) -> Settings:
    """Combine option, environment and ini values for every option in :data:`OPTIONS`."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        value, source = _lookup(option, cli, environ, ini)
        if value not in (None, False):
            values[option.dest] = value
            sources[option.dest] = source
    return Settings(
        check=bool(values.get(CHECK.dest)),
        report=values.get(REPORT.dest),
        fail=bool(values.get(FAIL.dest)),
        checks=values.get(CHECKS.dest),
        allow=values.get(ALLOW.dest),
        sources=sources,
    )


def _lookup(
    option: Option, cli: Mapping[str, Any], environ: Mapping[str, str], ini: Callable[[str], str | None]
) -> tuple[Any, str]:
    if cli.get(option.dest) not in (None, False):
        return cli[option.dest], option.flag
    for text, source in ((environ.get(option.env), option.env), (ini(option.ini), f"ini {option.ini}")):
        if text is not None and text != "":
            return (parse_bool(text, source) if option.is_flag else text), source
    return None, ""
