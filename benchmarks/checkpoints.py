"""What one clean check point costs, check by check, measured in one process.

Sets Django up with testproject's settings (SQLite, its test database
created), starts each built-in check alone, and times its
``fingerprint(sweep=False)``: what every check point of a clean test pays, for
a test of a generated test module that imports two modules of the tree (a check
with a ``test_module`` hook is told so first, as the engine does), and
``fingerprint(sweep=True)``, what a module's end pays. With ``--modules N`` it
first imports a generated first-party package of N modules (3 classes and 2
module-level containers each), the tree size that ``module_attributes`` costs
grow with. Prints microseconds per check point and sweep, and the cost of
``start()``.

    python benchmarks/checkpoints.py
    python benchmarks/checkpoints.py --modules 200 --checks module_attributes,apps_registry
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import timeit
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TREE = "isolation_tree"
TEST_MODULE = f"{TREE}.tests"
TEST_SOURCE = """\
from isolation_tree.module_000 import Client0
from isolation_tree.module_001 import Service1


class ClientTests:
    def test_get(self):
        return Client0().get("/"), Service1.version()
"""
MODULE_SOURCE = """\
REGISTRY = {{}}
HANDLERS = []


class Service{number}:
    retries = 3
    timeout = 1.5

    def run(self):
        return self.retries

    def stop(self):
        return None

    @classmethod
    def build(cls):
        return cls()

    @staticmethod
    def version():
        return "{number}"


class Client{number}(Service{number}):
    base_url = "https://example.com/{number}"

    def get(self, path):
        return self.base_url + path


class Settings{number}:
    DEBUG = False
    NAMES = ("a", "b")
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=0, help="generated first-party modules to import (default 0)")
    parser.add_argument("--checks", default="all", help="comma-separated check names (default: all)")
    parser.add_argument("--number", type=int, default=2000, help="check points timed per check (default 2000)")
    return parser.parse_args(argv)


def write_tree(root: Path, modules: int) -> None:
    package = root / TREE
    package.mkdir()
    (package / "__init__.py").write_text("")
    for number in range(max(modules, 2)):
        (package / f"module_{number:03d}.py").write_text(MODULE_SOURCE.format(number=number))
    (package / "tests.py").write_text(TEST_SOURCE)


def set_up_django() -> object:
    """Django set up for tests, with testproject's test database created; returns what tears it down."""
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    os.environ.pop("DATABASE_URL", None)
    import django
    from django.test.utils import setup_databases, setup_test_environment

    django.setup()
    setup_test_environment()
    return setup_databases(verbosity=0, interactive=False)


def measure(name: str, number: int) -> tuple[float, float, float]:
    """Microseconds for start(), one clean fingerprint(sweep=False) and one fingerprint(sweep=True) of `name`."""
    from django_isolation.checks import create

    check = create(name)[0]
    started = timeit.default_timer()
    check.start()
    check.fingerprint(sweep=True)
    start_us = (timeit.default_timer() - started) * 1e6
    test_module = getattr(check, "test_module", None)
    if test_module is not None:
        test_module(TEST_MODULE)
    try:
        point = min(timeit.repeat(lambda: check.fingerprint(sweep=False), number=number, repeat=5)) / number
        sweep = min(timeit.repeat(lambda: check.fingerprint(sweep=True), number=max(number // 20, 1), repeat=5))
    finally:
        check.stop()
    return start_us, point * 1e6, sweep / max(number // 20, 1) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="isolation-checkpoints-") as tmp:
        write_tree(Path(tmp), args.modules)
        os.chdir(tmp)  # the generated tree is first-party: it lies under the working directory
        sys.path.insert(0, tmp)
        databases = set_up_django()
        for number in range(args.modules):
            __import__(f"{TREE}.module_{number:03d}")
        __import__(TEST_MODULE)
        from django_isolation.checks import BUILTIN_MODULES

        names = [m.rpartition(".")[2] for m in BUILTIN_MODULES] if args.checks == "all" else args.checks.split(",")
        heading = f"{'check':20s} {'start (ms)':>10s} {'check point (us)':>17s} {'sweep (us)':>11s}"
        print(f"{heading}   ({args.modules} generated modules)")
        for name in names:
            start_us, point_us, sweep_us = measure(name, args.number)
            print(f"{name:20s} {start_us / 1000:10.2f} {point_us:17.2f} {sweep_us:11.2f}", flush=True)
        from django.test.utils import teardown_databases

        teardown_databases(databases, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
