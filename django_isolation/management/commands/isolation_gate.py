"""``python manage.py isolation_gate [labels]``: the pre-merge gate through ``manage.py test``.

Needs ``"django_isolation"`` in ``INSTALLED_APPS`` (for the command to be
found). Runs the tests tagged ``migration_test`` (django-test-migrations tags
``MigratorTestCase`` so) of `labels` (default: the whole project) in every
order of :mod:`django_isolation.gate`; ``--tag`` picks other tags,
``--all-tags`` every test of the labels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from django_isolation import gate
from django_isolation.runner import IsolationRunner


class DjangoGateFront:
    """Builds the ``manage.py test`` command line of each gated run."""

    runner = "django"

    def __init__(self, manage: str, labels: list[str], tags: list[str], checks: str) -> None:
        self.manage = manage
        self.labels = labels
        self.tags = tags
        self.checks = checks
        self.extra_env: dict[str, str] = {}

    def test_command(self, order: gate.Order, report: Path, database: gate.DatabaseUse) -> list[str]:
        command = [sys.executable, self.manage, "test", *self.labels, "--noinput"]
        command += [option for tag in self.tags for option in ("--tag", tag)]
        command += {"collected": [], "reversed": ["--reverse"]}.get(order.kind, ["--shuffle", str(order.seed)])
        command += ["--keepdb"] if database != "last" else []  # the last run destroys the test database
        if not issubclass(import_string(settings.TEST_RUNNER), IsolationRunner):
            command += ["--testrunner", "django_isolation.runner.IsolationRunner"]
        return command + gate.strict_options(report, self.checks)

    def missing_migrations(self) -> gate.MissingMigrations:
        return gate.missing_migrations_now()


class Command(BaseCommand):
    help = (
        "Pre-merge gate: run the migration tests under every isolation check, as collected, reversed and "
        "shuffled; fail on any leak, drift, schema not restored or order-dependent outcome."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("labels", nargs="*", help="test labels, as for manage.py test (default: all)")
        parser.add_argument(
            "--tag",
            action="append",
            dest="tags",
            default=[],
            metavar="TAG",
            help=f"run the tests with this tag (repeatable; default {gate.MIGRATION_TEST_MARKER})",
        )
        parser.add_argument("--all-tags", action="store_true", help="run every test of the labels, tagged or not")
        gate.add_arguments(parser)

    def handle(self, *labels: str, **options: Any) -> None:
        tags = [] if options["all_tags"] else options["tags"] or [gate.MIGRATION_TEST_MARKER]
        front = DjangoGateFront(sys.argv[0], list(labels), tags, options["checks"])
        chosen = gate.orders(options["shuffles"], options["seeds"])
        result = gate.run_gate(front, chosen, Path(options["output"]), echo=self.stdout.write)
        if result.exit_status:
            sys.exit(result.exit_status)
