"""reserved_names.yml holds every name a generated package must not take.

scripts/reserved_names.py writes it from the offered Pythons, a real resolution of the
maximal project and the template's layout. These tests fail when it falls behind: a new
dependency, a new test module, a new Python.
"""

from __future__ import annotations

import csv
import keyword
import sys
import tomllib

import pytest
import yaml

from copier_mlops import ROOT
from copier_mlops.ladder import STAGES

# The editable install of this repository (pyproject.toml) puts its root on sys.path,
# so its scripts/ folder imports as a namespace package.
from scripts.reserved_names import COMMAND, possible_package_names, top_level_modules

from helpers.generated_project import stage_params

RESERVED = yaml.safe_load((ROOT / "reserved_names.yml").read_text(encoding="utf-8"))[
    "reserved_names"
]["default"]


def test_covers_the_running_interpreters_stdlib() -> None:
    missing = sorted(set(possible_package_names(sys.stdlib_module_names)) - set(RESERVED["stdlib"]))
    assert missing == [], f"Python {sys.version_info[:2]} has more: run `{COMMAND}`"


def test_covers_every_keyword() -> None:
    missing = sorted(set(possible_package_names(keyword.kwlist)) - set(RESERVED["keywords"]))
    assert missing == [], f"run `{COMMAND}`"


def test_layout_covers_the_template_tree() -> None:
    """The project's top-level folders and modules, and its test modules (pytest imports
    them as top-level modules), read from template/ itself."""
    template = ROOT / "template"
    taken = set()
    for entry in [*template.iterdir(), *(template / "tests").iterdir()]:
        name = entry.name.removesuffix(".jinja")
        if entry.is_dir():
            taken.add(name)
        elif name.endswith(".py"):
            taken.add(name.removesuffix(".py"))
    assert {"tests", "conftest", "src"} <= taken
    missing = sorted(set(possible_package_names(taken)) - set(RESERVED["layout"]))
    assert missing == [], f"the template's layout has more: run `{COMMAND}`"


def test_lists_are_sorted_possible_names() -> None:
    for key, names in RESERVED.items():
        if key != "distributions":
            assert names == possible_package_names(names), f"{key}: run `{COMMAND}`"


def test_top_level_modules_of_a_wheel_listing() -> None:
    listing = [
        "pkg/__init__.py",
        "pkg/sub/mod.py",
        "single.py",
        "_speedups.cpython-311-x86_64-linux-gnu.so",
        "native.pyd",
        "pkg-1.0.dist-info/RECORD",
        "pkg-1.0.data/purelib/extra/__init__.py",
        "pkg-1.0.data/platlib/plat.py",
        "pkg-1.0.data/scripts/tool",
        "../../bin/tool",
        "distutils-precedence.pth",
        "LICENSE",
    ]
    assert top_level_modules(listing) == {
        "pkg",
        "single",
        "_speedups",
        "native",
        "extra",
        "plat",
    }


@pytest.mark.slow
@pytest.mark.parametrize("stage", stage_params(STAGES[-1:]))
def test_covers_what_the_generated_project_installs(projects, stage: str) -> None:
    """The last stage's project, locked and installed by `uv sync`: every distribution of
    its lock was read for the list, and every top-level module installed is on it."""
    project = projects.built(stage)
    with (project.path / "uv.lock").open("rb") as f:
        locked = {p["name"] for p in tomllib.load(f)["package"] if "registry" in p["source"]}
    new_distributions = sorted(locked - set(RESERVED["distributions"]))

    records = list(project.path.glob(".venv/lib/python*/site-packages/*.dist-info/RECORD"))
    assert len(records) >= len(locked) // 2, "the project's environment is not installed"
    installed: set[str] = set()
    for record in records:
        rows = csv.reader(record.read_text(encoding="utf-8").splitlines())
        installed |= top_level_modules(row[0] for row in rows if row)
    installed.discard(project.package)
    missing_modules = sorted(set(possible_package_names(installed)) - set(RESERVED["dependencies"]))

    assert {"new distributions": new_distributions, "missing modules": missing_modules} == {
        "new distributions": [],
        "missing modules": [],
    }, f"reserved_names.yml is behind the project's dependencies: run `{COMMAND}`"
