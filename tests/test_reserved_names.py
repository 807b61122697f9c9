"""reserved_names.yml keeps every standard-library module and keyword out of package names."""

from __future__ import annotations

import keyword
import sys

import yaml
from generated_project import ROOT

RESERVED = yaml.safe_load((ROOT / "reserved_names.yml").read_text(encoding="utf-8"))[
    "reserved_names"
]["default"]


def test_covers_the_running_interpreters_stdlib() -> None:
    public = {name for name in sys.stdlib_module_names if not name.startswith("_")}
    missing = sorted(public - set(RESERVED["stdlib"]))
    assert missing == [], f"add to reserved_names.yml (Python {sys.version_info[:2]}): {missing}"


def test_covers_every_keyword() -> None:
    assert sorted(set(keyword.kwlist) - set(RESERVED["keywords"])) == []


def test_names_the_issues_dependencies() -> None:
    assert {"mlflow", "sklearn", "fastapi", "test"} <= set(RESERVED["dependencies"])


def test_lists_have_no_duplicates() -> None:
    for key, names in RESERVED.items():
        assert len(names) == len(set(names)), f"{key} has duplicates"
