"""What components declare in components.yml (Make targets, settings, dependencies,
constraints, CI jobs, Dockerfiles) is well formed, and every render shows it where it
belongs."""

from __future__ import annotations

import itertools
import json
import keyword
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from copier_mlops.config import load_copier_config
from copier_mlops.ladder import LADDER, STAGES, TEAM_SIZES, components_on

from helpers.generated_project import GeneratedProject

SETTING_TYPES = {"str", "int", "float", "bool", "Path", "Path | None", "str | None"}
BOUNDS = {"ge", "gt", "le", "lt", "min_length", "max_length"}
MAKE_SECTIONS: list[str] = load_copier_config()["ladder"]["default"]["make_sections"]
# The dependency groups beside the runtime's, in pyproject.toml's order.
GROUPS: list[str] = list(load_copier_config()["ladder"]["default"]["dependency_groups"])
COMBINATIONS = list(itertools.product(STAGES, TEAM_SIZES))


def declared(key: str) -> Iterator[tuple[str, Any]]:
    """(component, item) for every item of a list-valued key, in components.yml's order."""
    for name, component in LADDER.components.items():
        for item in component.get(key, []):
            yield name, item


def _requirement_name(requirement: str) -> str:
    return re.split(r"[^A-Za-z0-9._-]", requirement, maxsplit=1)[0].lower()


# --------------------------------------------------------------------------------------
# Well formed
# --------------------------------------------------------------------------------------


def test_make_targets_are_unique_and_in_a_known_section() -> None:
    targets = [target["target"] for _, target in declared("make")]
    assert len(targets) == len(set(targets)), "a Make target is declared twice"
    for name, target in declared("make"):
        assert target.get("section") in MAKE_SECTIONS, f"{name}: {target['target']}'s section"
        assert target.get("help", "").strip(), f"{name}: {target['target']} needs help text"
        assert "##" not in target["help"], "`make help` splits on ##"
        assert target.get("recipe") or target.get("needs"), f"{target['target']} does nothing"


def test_make_target_needs_are_on_with_it() -> None:
    """A target that runs others (check: lint typecheck test) only where they exist."""
    owner = {target["target"]: name for name, target in declared("make")}
    for (stage, team), (name, target) in itertools.product(COMBINATIONS, declared("make")):
        on = components_on(stage, team)
        if name in on:
            for need in target.get("needs", []):
                assert owner.get(need) in on, f"{stage}/{team}: {target['target']} needs {need}"


def test_settings_are_unique_typed_and_quotable() -> None:
    # Components that are never on together (one problem type's gate and another's) may
    # each name a setting the same: a project has one of them.
    for values in itertools.product(*(LADDER.choices[q] for q in LADDER.only_questions())):
        answers = dict(zip(LADDER.only_questions(), values, strict=True))
        on = components_on(STAGES[-1], TEAM_SIZES[-1], answers)
        names = [setting["name"] for name, setting in declared("settings") if name in on]
        assert len(names) == len(set(names)), f"{answers}: a setting is declared twice"
    for component, setting in declared("settings"):
        where = f"{component}.{setting['name']}"
        assert setting["name"].isidentifier() and not keyword.iskeyword(setting["name"]), where
        assert setting["name"] == setting["name"].lower(), f"{where}: settings are lower case"
        assert setting["type"] in SETTING_TYPES, f"{where}: unknown type {setting['type']!r}"
        assert set(setting.get("bounds", {})) <= BOUNDS, f"{where}: unknown bound"
        # Written into a Python string literal and a one-line comment as they are.
        description = setting.get("description", "")
        assert description.strip() and not re.search(r'["\\\n]', description.strip()), where
        default = setting.get("default")
        if default is None:
            assert setting["type"].endswith("| None"), f"{where}: no default, not optional"
        elif setting["type"] in {"int", "float"}:
            assert isinstance(default, int | float) and not isinstance(default, bool), where


def test_setting_defaults_override_settings_a_required_component_declares() -> None:
    """A component gives a default only to a setting of a component it requires, so the
    setting is there whenever the new default is."""
    for name, component in LADDER.components.items():
        for setting in component.get("setting_defaults", {}):
            owners = [owner for owner, item in declared("settings") if item["name"] == setting]
            assert owners, f"{name} gives a default to {setting!r}, which no component declares"
            assert set(owners) <= set(LADDER.requires(name)), (
                f"{name} gives {setting!r} a default but does not require {owners}"
            )


def test_each_dependency_has_one_requirement_everywhere() -> None:
    """Two components that need the same distribution ask for the same versions."""
    seen: dict[str, str] = {}
    for name, component in LADDER.components.items():
        for group, requirements in component.get("dependencies", {}).items():
            assert group in {"runtime", *GROUPS}, f"{name}: unknown group {group!r}"
            for requirement in requirements:
                key = _requirement_name(requirement)
                assert seen.setdefault(key, requirement) == requirement, (
                    f"{name} asks for {requirement!r}, another component for {seen[key]!r}"
                )


def test_constraints_name_a_requirement_and_a_reason() -> None:
    """A constraint limits what uv locks for every group, so it bounds a version and says
    why, on one line of pyproject.toml's comment."""
    for name, constraint in declared("constraints"):
        assert set(constraint) == {"requirement", "reason"}, f"{name}: {constraint}"
        assert constraint["reason"].strip() and "\n" not in constraint["reason"], name
        requirement = constraint["requirement"]
        assert _requirement_name(requirement) != requirement.lower(), f"{name}: no version"


# --------------------------------------------------------------------------------------
# Shown where they belong
# --------------------------------------------------------------------------------------


@pytest.fixture(params=COMBINATIONS, ids=[f"{s}-{t}" for s, t in COMBINATIONS])
def rendered(request: pytest.FixtureRequest, render: Callable[..., GeneratedProject]) -> Any:
    stage, team = request.param
    return render(maturity_stage=stage, team_size=team), components_on(stage, team)


def test_makefile_and_command_tables_list_the_targets_of_the_components_on(
    rendered: tuple[GeneratedProject, set[str]],
) -> None:
    project, on = rendered
    expected = [t["target"] for name, t in declared("make") if name in on]
    makefile = (project.path / "Makefile").read_text(encoding="utf-8")
    in_makefile = re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE)
    assert sorted(in_makefile) == sorted(["help", *expected])
    for doc in ("README.md", "CONTRIBUTING.md"):
        path = project.path / doc
        if path.exists():
            listed = re.findall(r"^\| `make ([a-z-]+)` \|", path.read_text(), flags=re.MULTILINE)
            assert sorted(listed) == sorted(expected), doc


def test_dependencies_are_those_of_the_components_on(
    rendered: tuple[GeneratedProject, set[str]],
) -> None:
    project, on = rendered
    pyproject = project.pyproject
    found = {
        "runtime": pyproject["project"]["dependencies"],
        **pyproject["dependency-groups"],
    }
    for group, requirements in found.items():
        expected = {
            requirement
            for name, component in LADDER.components.items()
            if name in on
            for requirement in component.get("dependencies", {}).get(group, [])
        }
        assert sorted(requirements) == sorted(expected), group
        assert requirements == sorted(requirements, key=_requirement_name), f"{group} unsorted"
    groups = list(pyproject["dependency-groups"])
    declaring = [
        group
        for group in GROUPS
        if any(LADDER.components[name].get("dependencies", {}).get(group) for name in on)
    ]
    assert groups == declaring, "the groups the components on declare, in order"
    assert sorted(pyproject["tool"]["uv"]["default-groups"]) == sorted(groups), (
        "`uv sync` installs every group"
    )
    constraints = [
        constraint["requirement"] for name, constraint in declared("constraints") if name in on
    ]
    assert pyproject["tool"]["uv"].get("constraint-dependencies", []) == constraints


def test_env_example_lists_the_settings_of_the_components_on(
    rendered: tuple[GeneratedProject, set[str]],
) -> None:
    project, on = rendered
    # The settings come first; a line starting with "## " heads other tools' variables.
    text = (project.path / ".env.example").read_text(encoding="utf-8").partition("\n## ")[0]
    variables = re.findall(r"^([A-Z0-9_]+)=", text, flags=re.MULTILINE)
    expected = [
        setting.get("env") or f"{project.prefix}{setting['name'].upper()}"
        for name, setting in declared("settings")
        if name in on
    ]
    assert variables == expected
    # Each with its default, or the one a component that is on gives it.
    overrides = {
        setting: default
        for name in LADDER.components
        if name in on
        for setting, default in LADDER.components[name].get("setting_defaults", {}).items()
    }
    values = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))
    for name, setting in declared("settings"):
        variable = setting.get("env") or f"{project.prefix}{setting['name'].upper()}"
        if name in on and setting["name"] in overrides:
            assert values[variable] == str(overrides[setting["name"]]), variable


def test_required_checks_are_the_ci_jobs_of_the_components_on(
    rendered: tuple[GeneratedProject, set[str]],
) -> None:
    """Branch protection requires exactly the jobs the project's workflows run."""
    project, on = rendered
    ruleset = project.path / ".github/rulesets/main.json"
    if not ruleset.exists():
        pytest.skip("no ruleset below the large team size")
    rules = json.loads(ruleset.read_text(encoding="utf-8"))["rules"]
    required = [
        check["context"]
        for rule in rules
        if rule["type"] == "required_status_checks"
        for check in rule["parameters"]["required_status_checks"]
    ]
    job_names = set()
    for workflow in (project.path / ".github/workflows").glob("*.yml"):
        data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        if workflow.name == "cd.yml":  # runs on tags, never a pull request's check
            continue
        job_names |= {job.get("name", key) for key, job in data["jobs"].items()}
    assert sorted(required) == sorted(job_names)
    assert sorted(required) == sorted(j for name, j in declared("ci_jobs") if name in on)
