"""The gate's outputs: the terminal's closing lines, ``gate.json``, ``junit.xml`` and ``summary.md``.

All four carry the same causes, grouped and in the same order (decisive first).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from django_isolation.gate import EXIT_GREEN, EXIT_NO_TESTS, EXIT_RED, SCHEMA, GateRun, migrations_line
from django_isolation.gate_causes import Cause

if TYPE_CHECKING:
    from django_isolation.gate import GateResult

DETAILS_SHOWN = 3  # a cause's detail lines in the terminal; every one goes to the files


def summary_lines(result: GateResult, output: Path) -> list[str]:
    """The closing lines for the terminal: the verdict, each cause, the times, how to reproduce, the files."""
    if result.exit_status == EXIT_NO_TESTS:
        return ["django-isolation gate: no migration test was selected (see the selection options); failing"]
    verdict = "passed" if not result.causes else f"FAILED ({len(result.causes)} cause(s))"
    lines = [f"django-isolation gate {verdict}"]
    for cause in result.causes:
        lines.append(f"  - {cause.text}")
        lines += [f"      {detail}" for detail in cause.details[:DETAILS_SHOWN]]
        if len(cause.details) > DETAILS_SHOWN:
            lines.append(f"      ... {len(cause.details) - DETAILS_SHOWN} more in {output / 'summary.md'}")
    lines.append(
        f"time: {result.seconds:.1f} s in all; "
        + ", ".join(f"{run.label} {run.seconds:.1f} s" for run in result.all_runs)
    )
    if result.causes:
        lines.append("reproduce a run with:")
        lines += [f"  {run.label}: {shlex.join(run.command)}" for run in result.all_runs]
    lines.append(f"files: {output / 'gate.json'}, {output / 'junit.xml'}, {output / 'summary.md'}")
    return lines


def write_outputs(result: GateResult, output: Path) -> None:
    """``gate.json``, ``junit.xml`` and ``summary.md`` in `output`."""
    (output / "gate.json").write_text(json.dumps(to_json(result), indent=2) + "\n", encoding="utf-8")
    ElementTree.ElementTree(junit(result)).write(output / "junit.xml", encoding="utf-8", xml_declaration=True)
    (output / "summary.md").write_text(markdown(result), encoding="utf-8")


def to_json(result: GateResult) -> dict[str, Any]:
    """The gate's JSON document (schema ``django-isolation/gate/2``)."""
    return {
        "schema": SCHEMA,
        "runner": result.runner,
        "status": "passed" if result.exit_status == EXIT_GREEN else "failed",
        "exit_status": result.exit_status,
        "seconds": round(result.seconds, 3),
        "causes": [cause.to_json() for cause in result.causes],
        "selected": result.selected,
        "makemigrations": {"before": result.before.to_json(), "after": result.after.to_json()},
        "runs": [_run_json(run) for run in result.all_runs],
        "tests": {test: {run.label: _outcome(run, test) for run in result.runs} for test in result.selected},
    }


def _run_json(run: GateRun) -> dict[str, Any]:
    return {
        "kind": run.kind,
        "label": run.label,
        "order": run.order.kind if run.order else None,
        "seed": run.order.seed if run.order else None,
        "polluter": run.polluter,
        "command": run.command,
        "returncode": run.returncode,
        "seconds": round(run.seconds, 3),
        "report": str(run.files.report) if run.report is not None else None,
        "log": str(run.log),
        "tests": len(run.ran),
        "failed": sorted(run.failed),
        "findings": len(run.findings),
    }


def _outcome(run: GateRun, test: str) -> str:
    if test not in run.ran:
        return "not run"
    return "failed" if test in run.failed else "passed"


def junit(result: GateResult) -> ElementTree.Element:
    """JUnit XML: a suite per migration tests' run (leaks as failures of their polluter), then the gate's own:
    one test case per kind of cause, its failure the causes of that kind."""
    root = ElementTree.Element("testsuites", name="django-isolation gate")
    for run in result.runs:
        root.append(_run_suite(run))
    root.append(_gate_suite(result.causes))
    return root


def _run_suite(run: GateRun) -> ElementTree.Element:
    suite = ElementTree.Element("testsuite", name=f"run: {run.label}")
    leaks: dict[str, list[str]] = {}
    for finding in run.findings:
        leaks.setdefault(finding["test"], []).append(f"[{finding['check']}] {finding['summary']}")
    failures = 0
    for test in [*run.ran, *(test for test in leaks if test not in run.ran)]:
        case = ElementTree.SubElement(suite, "testcase", name=test, classname=run.label)
        problems = (["failed"] if test in run.failed else []) + leaks.get(test, [])
        if problems:
            failures += 1
            failure = ElementTree.SubElement(case, "failure", message="; ".join(problems))
            failure.text = "\n".join(problems)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    return suite


GATE_CASES = (
    ("every run finished", ("crash", "check error")),
    ("no polluter breaks the migration tests", ("proved polluter", "polluter")),
    ("no leaks", ("leak",)),
    ("outcomes do not depend on the order", ("order-dependent", "fails in every order")),
    ("makemigrations --check", ("migrations",)),
)


def _gate_suite(causes: list[Cause]) -> ElementTree.Element:
    suite = ElementTree.Element("testsuite", name="django-isolation gate")
    for name, kinds in GATE_CASES:
        case = ElementTree.SubElement(suite, "testcase", name=name, classname="gate")
        chosen = [cause for cause in causes if cause.kind in kinds]
        if chosen:
            failure = ElementTree.SubElement(case, "failure", message=chosen[0].text)
            failure.text = "\n".join(line for cause in chosen for line in _cause_lines(cause, ""))
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(sum(1 for case in suite if len(case))))
    return suite


def _cause_lines(cause: Cause, indent: str) -> list[str]:
    return [cause.text, *(f"{indent}  {detail}" for detail in cause.details)]


def markdown(result: GateResult) -> str:
    """A Markdown summary for a CI job summary (e.g. ``$GITHUB_STEP_SUMMARY``)."""
    status = {EXIT_GREEN: "passed", EXIT_RED: "failed", EXIT_NO_TESTS: "failed: no migration test selected"}
    lines = [f"## django-isolation gate: {status[result.exit_status]}", ""]
    if result.causes:
        lines += ["### Causes", ""]
        for cause in result.causes:
            lines.append(f"- {_escape(cause.text)}")
            lines += [f"  - {_escape(detail)}" for detail in cause.details]
        lines.append("")
    lines += ["| run | tests | failed | leaks | exit | seconds |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {_escape(run.label)} | {len(run.ran)} | {len(run.failed)} | {len(run.findings)} | {run.returncode} "
        f"| {run.seconds:.1f} |"
        for run in result.all_runs
    ]
    before, after = migrations_line(result.before), migrations_line(result.after)
    lines += ["", f"makemigrations --check: before: {before}; after: {after}", f"time: {result.seconds:.1f} s", ""]
    if result.causes:
        lines += ["### Reproduce", ""]
        for run in result.all_runs:
            lines += [f"{_escape(run.label)}:", "", "```sh", shlex.join(run.command), "```", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")
