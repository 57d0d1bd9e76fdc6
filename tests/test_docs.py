"""The docs say what the code does: each check's page states whether the check is on by default."""

from __future__ import annotations

import re

import pytest
from runs import REPO

from django_isolation.checks import BUILTIN_DEFAULTS, BUILTIN_MODULES

CHECK_NAMES = [module.rpartition(".")[2] for module in BUILTIN_MODULES]


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_each_check_page_says_whether_it_is_on_by_default(name: str) -> None:
    intro = (REPO / "docs" / "checks" / f"{name}.md").read_text().split("\n## ")[0]
    said = re.findall(r"(?i)\b(on|off) by default", intro)
    assert said, f"docs/checks/{name}.md does not say whether it is on by default"
    assert {word.lower() for word in said} == {"on" if name in BUILTIN_DEFAULTS else "off"}, said


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_each_check_page_says_which_keys_its_allow_patterns_match(name: str) -> None:
    page = (REPO / "docs" / "checks" / f"{name}.md").read_text()
    assert re.search(r"Allow patterns\b[^.]{0,80}?\bmatch", page, re.DOTALL), f"docs/checks/{name}.md gives no allow keys"
