"""Reports: the JSON document for machines and the terminal summary for people.

The JSON schema (``django-isolation/report/1``) is documented in
``docs/report.md``; fields are only ever added, never changed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from django_isolation.engine import Finding, Report, Victim
from django_isolation.options import ALLOW, CHECK, CHECKS, FAIL, REPORT, Settings

SCHEMA: Final = "django-isolation/report/1"
TITLE: Final = "django-isolation report"


def to_json(report: Report) -> dict[str, Any]:
    """The report as the documented JSON object."""
    return {
        "schema": SCHEMA,
        "runner": report.runner,
        "checks": report.checks,
        "invocation": {"argv": report.argv, "cwd": report.cwd},
        "order": report.order,
        "failed": report.failed,
        "findings": [_finding_json(f) for f in report.findings],
        "victims": [_victim_json(v) for v in report.victims],
        "unexplained": report.unexplained,
        "unused_allow": report.unused_allow,
        "check_errors": [{"check": e.check, "during": e.during, "error": e.error} for e in report.check_errors],
        "allowed": [
            {"test": a.test, "check": a.check, "summary": a.summary, "pattern": a.pattern} for a in report.allowed
        ],
    }


def merge(reports: Mapping[str, dict[str, Any]], workers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One report of the reports of several workers (pytest-xdist's ``gw0``, ``gw1``), keyed by worker.

    Each finding, victim, check error and allowed leak is tagged with its
    ``worker``; ``order`` and ``failed`` keep each worker's own sequence;
    ``unused_allow`` holds the patterns no worker used; ``workers`` says how
    each worker ended (``finished``, or ``lost: ...`` when it sent no report).
    """
    merged = _merged_base(list(reports.values()))
    merged["workers"] = dict(workers or dict.fromkeys(reports, "finished"))
    for worker, report in reports.items():
        merged["order"].update(report["order"])
        merged["failed"].update(report["failed"])
        merged["unexplained"] += report["unexplained"]
        for key in ("findings", "victims", "check_errors", "allowed"):
            merged[key] += [{**item, "worker": worker} for item in report[key]]
    return merged


def merge_jobs(reports: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One report of the reports of several CI jobs (keyed by job), each of one or several workers.

    ``order`` and ``failed`` keep every job's and worker's sequence (``job/gw0``,
    ``job/main``); the same leak found by several jobs (same test, check and
    summary) is one finding, its ``jobs`` listing them; victims, check errors
    and allowed leaks are tagged with their ``job``. Reports of another schema,
    or of different runners, are refused (ValueError).
    """
    for job, report in reports.items():
        if report.get("schema") != SCHEMA:
            raise ValueError(f"{job} is not a {SCHEMA} report")
    runners = {report["runner"] for report in reports.values()}
    if len(runners) > 1:
        raise ValueError(f"the reports come from different runners ({', '.join(sorted(runners))}): merge one runner's")
    merged = _merged_base(list(reports.values()))
    merged["jobs"], merged["workers"] = list(reports), {}
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for job, report in reports.items():
        for key in ("order", "failed"):
            merged[key].update({f"{job}/{worker}": tests for worker, tests in report[key].items()})
        merged["workers"].update({f"{job}/{worker}": ended for worker, ended in report.get("workers", {}).items()})
        merged["unexplained"] += [test for test in report["unexplained"] if test not in merged["unexplained"]]
        for finding in report["findings"]:
            same = seen.get((finding["test"], finding["check"], finding["summary"]))
            if same is None:
                same = seen[(finding["test"], finding["check"], finding["summary"])] = {**finding, "jobs": []}
                merged["findings"].append(same)
            same["jobs"].append(job)
        for key in ("victims", "check_errors", "allowed"):
            merged[key] += [{**item, "job": job} for item in report[key]]
    return merged


def write_json(data: dict[str, Any], path: str) -> None:
    """Write a JSON report (from :func:`to_json`) to `path`, creating its directory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def header(settings: Settings, checks: Iterable[str]) -> str:
    """One line for the start of a run: which checks are on and where each setting came from."""
    sources = settings.sources
    first = next(sources[option.dest] for option in (CHECK, FAIL, REPORT, CHECKS) if option.dest in sources)
    parts = [f"on by {first}"]
    if settings.checks is not None:
        parts.append(f"checks chosen by {sources[CHECKS.dest]}")
    if settings.report is not None:
        parts.append(f"JSON report to {settings.report} ({sources[REPORT.dest]})")
    if settings.fail:
        parts.append(f"leaks fail the run ({sources[FAIL.dest]})")
    if settings.allow:
        parts.append(f"allowed: {settings.allow} ({sources[ALLOW.dest]})")
    return f"django-isolation: checks {', '.join(checks)}; {'; '.join(parts)}"


def render_text(data: dict[str, Any]) -> str:
    """The terminal summary of a JSON report: leaks grouped by polluter, then victims."""
    findings, victims, errors = data["findings"], data["victims"], data["check_errors"]
    polluters = list(dict.fromkeys((f["test"], f.get("worker"), tuple(f.get("jobs", ()))) for f in findings))
    lines = [f"{len(polluters)} polluter(s), {len(findings)} leak(s), {len(victims)} possible victim(s)"]
    for polluter, worker, jobs in polluters:
        lines += ["", f"POLLUTER {polluter}{_on(worker, jobs)}"]
        same = (polluter, worker, jobs)
        for finding in (f for f in findings if (f["test"], f.get("worker"), tuple(f.get("jobs", ()))) == same):
            lines += _finding_lines(finding)
    for victim in victims:
        where = _on(victim.get("worker"), [victim["job"]] if "job" in victim else [])
        lines += ["", f"VICTIM {victim['test']}{where} failed near these leaks:"]
        lines += _victim_lines(victim)
    for test in data.get("unexplained", []):
        lines += ["", f"FAILED {test}: no watched state explains this failure"]
    for error in errors:
        check, during = f"{error['check']}{_on(error.get('worker'))}", error["during"]
        lines += ["", f"CHECK ERROR {check} during {during}: {error['error']} (check switched off)"]
    for worker, ended in data.get("workers", {}).items():
        if ended != "finished":
            lines += ["", f"WORKER {worker} {ended}: the findings of its tests are not in this report"]
    allowed = data.get("allowed", [])
    if allowed:
        lines += ["", f"{len(allowed)} leak(s) allowed on purpose:"]
        lines += [f"  {a['test']} [{a['check']}] {a['summary']} (allowed by {a['pattern']!r})" for a in allowed]
    unused = data.get("unused_allow", [])
    if unused:
        lines += ["", f"--isolation-allow pattern(s) that matched nothing: {', '.join(unused)}"]
    return "\n".join(lines)


def _merged_base(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields of a merged report that come from all of `reports` at once; the lists and maps empty."""
    return {
        "schema": SCHEMA,
        "runner": reports[0]["runner"] if reports else "pytest",
        "checks": list(dict.fromkeys(name for report in reports for name in report["checks"])),
        "invocation": {"argv": list(sys.argv), "cwd": os.getcwd()},
        "order": {},
        "failed": {},
        "findings": [],
        "victims": [],
        "unexplained": [],
        "unused_allow": _unused_everywhere(reports),
        "check_errors": [],
        "allowed": [],
    }


def _unused_everywhere(reports: list[dict[str, Any]]) -> list[str]:
    """The allow patterns that no report used."""
    if not reports:
        return []
    return [pattern for pattern in reports[0]["unused_allow"] if all(pattern in r["unused_allow"] for r in reports)]


def _on(worker: str | None, jobs: Iterable[str] = ()) -> str:
    where = [f"worker {worker}"] if worker else []
    jobs = list(jobs)
    where += [f"job{'s' if len(jobs) > 1 else ''} {', '.join(jobs)}"] if jobs else []
    return f" ({'; '.join(where)})" if where else ""


def _victim_json(victim: Victim) -> dict[str, Any]:
    links = [{"suspect": link.suspect, "leak": link.leak, "evidence": link.evidence} for link in victim.links]
    return {"test": victim.test, "suspects": list(victim.suspects), "leaks": list(victim.leaks), "links": links}


def _victim_lines(victim: dict[str, Any]) -> list[str]:
    """Each suspect with its leaks and the evidence for each (reports before ``links`` list suspects and leaks)."""
    links = victim.get("links")
    if links is None:
        return [f"  suspect {s}" for s in victim["suspects"]] + [f"    {leak}" for leak in victim["leaks"]]
    lines: list[str] = []
    for suspect in victim["suspects"]:
        lines.append(f"  suspect {suspect}")
        for link in (link for link in links if link["suspect"] == suspect):
            lines += [f"    {link['leak']}", f"      evidence: {link['evidence']}"]
    return lines


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "test": finding.test,
        "check": finding.check,
        "summary": finding.summary,
        "details": finding.details,
        "origin": [frame.to_json() for frame in finding.origin],
        "advice": finding.advice,
    }


def _finding_lines(finding: dict[str, Any]) -> list[str]:
    details = finding["details"]
    lines = [f"  [{finding['check']}] {finding['summary']}"]
    lines.append(f"      before: {_value(details.get('before'))}  ->  after: {_value(details.get('after'))}")
    if details.get("replaces_state_of"):
        lines.append(f"      (the state before was left by {details['replaces_state_of']})")
    if details.get("fixture"):
        where = f" ({details['fixture_origin']})" if details.get("fixture_origin") else ""
        lines.append(f"      left by {details['scope']} scope of {details['fixture']}{where}")
    for number, frame in enumerate(finding["origin"]):
        label = "created at" if number == 0 else "    called from"
        lines.append(f"      {label} {frame['file']}:{frame['line']} in {frame['function']}")
    lines += [f"      same cause: {also}" for also in details.get("same_cause", [])]
    if details.get("cleaned_by"):
        lines.append(f"      cleaned later by {details['cleaned_by']}")
    lines.append(f"      advice: {finding['advice']}")
    return lines


def _value(value: str | None) -> str:
    return "(absent)" if value is None else value
