"""The ``django-isolation`` command.

``django-isolation show REPORT.json`` prints the terminal summary of a JSON
report (for example one saved as a CI artifact) and exits 1 when it holds leaks.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from django_isolation import __version__
from django_isolation.report import SCHEMA, render_text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="django-isolation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print the summary of a JSON report; exit 1 if it holds leaks")
    show.add_argument("report", help="a report written by --isolation-report")
    args = parser.parse_args(argv)
    return _show(args.report)


def _show(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        print(f"django-isolation: cannot read {path}: {error}", file=sys.stderr)
        return 2
    if data.get("schema") != SCHEMA:
        print(f"django-isolation: {path} is not a {SCHEMA} report", file=sys.stderr)
        return 2
    print(render_text(data))
    return 1 if data["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
