"""components.yml is the one source of truth, and copier.yml asks exactly its choices."""

from __future__ import annotations

import re

import pytest

from copier_mlops import ROOT
from copier_mlops.config import load_copier_config
from copier_mlops.ladder import LADDER, STAGES, TEAM_SIZES

CONFIG = load_copier_config()


def _choice_values(question: dict[str, object]) -> list[str]:
    choices = question["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)  # type: ignore[union-attr, call-overload]


def test_stage_choices_are_the_ladder_stages() -> None:
    assert _choice_values(CONFIG["maturity_stage"]) == STAGES


def test_team_size_choices_are_the_ladder_team_sizes() -> None:
    assert _choice_values(CONFIG["team_size"]) == TEAM_SIZES


@pytest.mark.parametrize("question", ["maturity_stage", "team_size"])
def test_default_is_one_of_the_choices(question: str) -> None:
    assert CONFIG[question]["default"] in _choice_values(CONFIG[question])


@pytest.mark.parametrize("name", list(LADDER.components))
def test_component_is_well_formed(name: str) -> None:
    component = LADDER.components[name]
    assert component["stage"] in STAGES, f"{name}: unknown stage {component['stage']!r}"
    assert component["team"] in TEAM_SIZES, f"{name}: unknown team size {component['team']!r}"
    assert component.get("summary", "").strip(), f"{name}: needs a one-line summary"
    for path in component.get("paths", []):
        assert isinstance(path, str) and path.strip() == path and path, f"{name}: bad path {path!r}"
        # gitignore-style: a leading "/" anchors to the project root; no ./ or ../
        assert not path.startswith(("./", "../")), f"{name}: {path!r} must be project-relative"
        assert "/../" not in path, f"{name}: {path!r} must stay inside the project"


def test_derived_values_are_never_asked() -> None:
    """The ladder, the component list, the reserved names and the characters no answer
    may hold are computed, not asked."""
    for key in ("ladder", "components", "reserved_names", "forbidden_characters", "project_slug"):
        assert CONFIG[key].get("when") is False, f"{key} must be `when: false`"


def test_template_needs_no_trust() -> None:
    """No tasks, migrations or Jinja extensions: Copier renders it without --trust."""
    assert not {"_tasks", "_migrations", "_jinja_extensions", "_external_data"} & set(CONFIG)
    assert CONFIG.get("_min_copier_version"), "set _min_copier_version"


def test_template_files_are_conditional_only_through_components_yml() -> None:
    """No Jinja conditions in file or folder names: what is generated when is decided
    by components.yml alone (and `_exclude`), never by a name that renders empty."""
    offenders = [
        p.relative_to(ROOT / "template").as_posix()
        for p in (ROOT / "template").rglob("*")
        if re.search(r"\{%|\{#", p.name)
    ]
    assert offenders == []


def test_templates_test_components_not_stages() -> None:
    """Templates switch on components by name, never by comparing the stage or team size
    answers, which would restate the ladder outside components.yml. (Looking a stage up
    in the ladder, e.g. to name the next one, is reading it, and fine.)"""
    answer = r"\b(?:maturity_stage|team_size)\b"
    comparison = re.compile(
        rf"{answer}\s*(?:==|!=|<|>|\bin\b|\bnot\s+in\b)|(?:==|!=|<|>)\s*{answer}"
    )
    offenders = []
    for path in (ROOT / "template").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for block in re.findall(r"\{%.*?%\}|\{\{.*?\}\}", text, flags=re.DOTALL):
                if comparison.search(block):
                    offenders.append(f"{path.relative_to(ROOT)}: {block}")
    assert offenders == []
