"""The victim's assertion: models and migrations agree, as ``makemigrations --check`` sees them."""

from io import StringIO

from django.core.management import call_command
from django.test import TestCase


def assert_no_missing_migrations(test: TestCase) -> None:
    """Fail `test` with makemigrations' output when it would write a migration."""
    output = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=output, stderr=output)
    except SystemExit:
        test.fail(f"makemigrations --check found changes:\n{output.getvalue()}")
