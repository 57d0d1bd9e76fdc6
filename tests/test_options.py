"""Option, then environment, then ini; and the header that says which one turned the checks on."""

from __future__ import annotations

import pytest
from runs import REPO, manage_test, run_pytest

from django_isolation import checks
from django_isolation.options import Settings, resolve
from django_isolation.report import header

OFF = {"isolation_check": False, "isolation_report": None, "isolation_fail": False, "isolation_checks": None}


def test_nothing_set_means_off() -> None:
    assert resolve(OFF, {}) == Settings()
    assert not Settings().enabled


def test_command_line_wins_over_environment_and_ini() -> None:
    environ = {"DJANGO_ISOLATION_REPORT": "env.json"}
    settings = resolve({**OFF, "isolation_report": "cli.json"}, environ, lambda name: "ini.json" if "report" in name else "")
    assert settings.report == "cli.json"
    assert settings.sources == {"isolation_report": "--isolation-report"}
    assert settings.enabled


def test_environment_wins_over_ini_and_can_switch_off() -> None:
    settings = resolve(
        OFF, {"DJANGO_ISOLATION_CHECK": "0", "DJANGO_ISOLATION_FAIL": "yes"}, lambda name: "" if name.endswith(("checks", "allow")) else "true"
    )
    assert (settings.check, settings.fail) == (False, True)
    assert settings.sources == {"isolation_fail": "DJANGO_ISOLATION_FAIL", "isolation_report": "ini isolation_report"}


def test_a_bad_boolean_is_an_error_naming_its_source() -> None:
    with pytest.raises(ValueError, match="DJANGO_ISOLATION_CHECK: expected one of"):
        resolve(OFF, {"DJANGO_ISOLATION_CHECK": "maybe"})


def test_header_names_the_source_of_each_setting() -> None:
    settings = resolve({**OFF, "isolation_report": "r.json"}, {"DJANGO_ISOLATION_FAIL": "1"})
    assert header(settings, ["apps_registry"]) == (
        "django-isolation: checks apps_registry; on by DJANGO_ISOLATION_FAIL; "
        "JSON report to r.json (--isolation-report); leaks fail the run (DJANGO_ISOLATION_FAIL)"
    )


def test_environment_variable_turns_on_both_fronts() -> None:
    django = manage_test(REPO, "testproject.demo.clean", DJANGO_ISOLATION_CHECK="1")
    pytest_ = run_pytest(REPO, "testproject/demo/clean", DJANGO_ISOLATION_CHECK="1")
    for run in (django, pytest_):
        assert run.returncode == 0, run.output
        assert f"django-isolation: checks {', '.join(checks.BUILTIN_DEFAULTS)}; on by DJANGO_ISOLATION_CHECK" in run.output
        assert "django-isolation report" in run.output


def test_ini_value_turns_on_pytest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pytest.ini").write_text("[pytest]\nisolation_check = true\n")
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    run = run_pytest(tmp_path, "test_nothing.py")
    assert run.returncode == 0, run.output
    assert "on by ini isolation_check" in run.output


def test_a_bad_ini_value_is_a_usage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pytest.ini").write_text("[pytest]\nisolation_fail = sometimes\n")
    run = run_pytest(tmp_path)
    assert run.returncode == 4, run.output
    assert "django-isolation: ini isolation_fail: expected one of" in run.output


ALL_CHECKS = tuple(checks.available())  # every built-in check, in the order of checks.BUILTIN_MODULES


def test_checks_are_chosen_by_name_or_all_on_both_fronts() -> None:
    django = manage_test(REPO, "--isolation-checks", "all", "testproject.demo.clean")
    pytest_ = run_pytest(REPO, "testproject/demo/clean", DJANGO_ISOLATION_CHECKS="db_rows")
    assert django.returncode == 0 and pytest_.returncode == 0, django.output + pytest_.output
    assert f"django-isolation: checks {', '.join(ALL_CHECKS)}; on by --isolation-checks" in django.output
    assert "django-isolation: checks db_rows; on by DJANGO_ISOLATION_CHECKS" in pytest_.output


def test_an_unknown_check_name_is_a_usage_error_on_both_fronts() -> None:
    django = manage_test(REPO, "--isolation-checks", "apps_registry,nope", "testproject.demo.clean")
    pytest_ = run_pytest(REPO, "--isolation-checks", "nope", "testproject/demo/clean")
    assert django.returncode == 1 and pytest_.returncode == 4
    for run in (django, pytest_):
        assert f"django-isolation: unknown isolation check(s) nope; known: {', '.join(ALL_CHECKS)}, all, default" in run.output


def test_checks_are_left_out_with_no_prefix_on_both_fronts() -> None:
    django = manage_test(REPO, "--isolation-checks", "no:threads,no:db_rows", "testproject.demo.clean")
    pytest_ = run_pytest(REPO, "testproject/demo/clean", DJANGO_ISOLATION_CHECKS="all,no:signals")
    assert django.returncode == 0 and pytest_.returncode == 0, django.output + pytest_.output
    defaults = [name for name in checks.BUILTIN_DEFAULTS if name not in ("threads", "db_rows")]
    assert f"django-isolation: checks {', '.join(defaults)}; on by --isolation-checks" in django.output
    everything_but_signals = [name for name in ALL_CHECKS if name != "signals"]
    assert f"django-isolation: checks {', '.join(everything_but_signals)}; on by DJANGO_ISOLATION_CHECKS" in pytest_.output


def test_leaving_out_an_unknown_check_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match=r"unknown isolation check\(s\) nope"):
        checks.create("no:nope")
