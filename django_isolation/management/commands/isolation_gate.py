"""``python manage.py isolation_gate [labels]``: the pre-merge gate through ``manage.py test``.

Needs ``"django_isolation"`` in ``INSTALLED_APPS`` (for the command to be
found). Surveys every test of `labels` (default: the whole project), then
runs the migration tests (those that build a django-test-migrations
``Migrator``, and those tagged ``migration_test``: ``--tag`` picks other
tags, ``--all-tags`` takes every test) as :mod:`django_isolation.gate` says.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from django_isolation import gate
from django_isolation.runner import IsolationRunner


class DjangoGateFront:
    """Builds the ``manage.py test`` command line of each gated run."""

    runner = "django"
    DATABASE: Final = {
        "first": ["--keepdb", "--isolation-gate-database", "first"],  # built if missing, copied, kept
        "reuse": ["--keepdb", "--isolation-gate-database", "reuse"],
        "last": ["--keepdb", "--isolation-gate-database", "last"],
    }

    def __init__(self, manage: str, labels: list[str], tags: list[str], checks: str, verbosity: int = 1) -> None:
        self.manage = manage
        self.labels = labels
        self.tags = tags  # none: every test of the labels
        self.checks = checks
        self.verbosity = verbosity  # the gate's -v, passed on to each run
        self.extra_env: dict[str, str] = {}

    def missing_migrations(self) -> gate.MissingMigrations:
        return gate.missing_migrations_now()

    def selected(self, survey: dict[str, Any], collected: list[str]) -> list[str]:
        if not self.tags:
            return list(collected)
        wanted = set(self.tags)
        return [test for test, tags in survey.get("tags", {}).items() if wanted.intersection(tags)]

    def survey_command(self, files: gate.RunFiles, database: gate.DatabaseUse) -> list[str]:
        return [*self._test(self.labels, database), *gate.survey_options(files)]

    def order_command(
        self, order: gate.Order, tests: list[str], files: gate.RunFiles, database: gate.DatabaseUse
    ) -> list[str]:
        """The tests as labels, in Django's own orders (``TestCase`` first; ``--reverse``, ``--shuffle``)."""
        ordering = {"collected": [], "reversed": ["--reverse"]}.get(order.kind, ["--shuffle", str(order.seed)])
        return [*self._test(tests, database), *ordering, *gate.strict_options(files.report, self.checks)]

    def replay_command(self, files: gate.RunFiles, database: gate.DatabaseUse) -> list[str]:
        tests = files.replay.read_text(encoding="utf-8").split()
        replay = [f"--isolation-replay={files.replay}"]
        return [*self._test(tests, database), *replay, *gate.strict_options(files.report, self.checks)]

    def _test(self, labels: list[str], database: gate.DatabaseUse) -> list[str]:
        command = [sys.executable, self.manage, "test", *labels, "--noinput", *self.DATABASE[database]]
        command += ["-v", str(self.verbosity)] if self.verbosity != 1 else []
        if not issubclass(import_string(settings.TEST_RUNNER), IsolationRunner):
            command += ["--testrunner", "django_isolation.runner.IsolationRunner"]
        return command


class Command(BaseCommand):
    help = (
        "Pre-merge gate: find the tests that leave the app registry or the schema changed, prove which migration "
        "tests they break, run the migration tests as collected, reversed and shuffled under every isolation "
        "check; fail on any such polluter, leak, drift or order-dependent outcome."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("labels", nargs="*", help="test labels, as for manage.py test (default: all)")
        parser.add_argument(
            "--tag",
            action="append",
            dest="tags",
            default=[],
            metavar="TAG",
            help="also count the tests with this tag as migration tests, besides those that build a Migrator "
            f"(repeatable; default {gate.MIGRATION_TEST_MARKER})",
        )
        parser.add_argument(
            "--all-tags", action="store_true", help="count every test of the labels as a migration test"
        )
        gate.add_arguments(parser)

    def handle(self, *labels: str, **options: Any) -> None:
        tags = [] if options["all_tags"] else options["tags"] or [gate.MIGRATION_TEST_MARKER]
        front = DjangoGateFront(sys.argv[0], list(labels), tags, options["checks"], options["verbosity"])
        chosen = gate.orders(options["shuffles"], options["seeds"])
        result = gate.run_gate(front, chosen, Path(options["output"]), echo=self.stdout.write)
        if result.exit_status:
            sys.exit(result.exit_status)
