"""components.yml is the one source of truth: copier.yml asks exactly its choices, its
components are well formed and never on without what they require, and copier.yml's
Jinja derivation of `components` switches on what copier_mlops.ladder says."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import copier
import pathspec
import pytest
import yaml
from copier._main import Worker  # internal to Copier: its questionnaire, without a render
from jinja2.sandbox import SandboxedEnvironment

from copier_mlops import ROOT
from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.ladder import LADDER, STAGE_QUESTION, STAGES, TEAM_QUESTION, TEAM_SIZES, Ladder

from helpers.generated_project import GeneratedProject
from helpers.template_repo import clone, commit_all

CONFIG = load_copier_config()


def test_stage_choices_are_the_ladder_stages() -> None:
    assert choice_values(CONFIG[STAGE_QUESTION]) == STAGES


def test_every_stage_after_the_first_says_when_to_move_up_to_it() -> None:
    """A project's README names the next stage and when to move up to it."""
    move_up_when = CONFIG["ladder"]["default"]["move_up_when"]
    assert list(move_up_when) == STAGES[1:]
    assert all(reason.strip() and reason[0].isupper() for reason in move_up_when.values())


def test_team_size_choices_are_the_ladder_team_sizes() -> None:
    assert choice_values(CONFIG[TEAM_QUESTION]) == TEAM_SIZES


def default_answer(question: str) -> str:
    """A question's default as Copier renders it, with no organisation policy given (the
    stage's and team size's defaults follow `org_policy`: tests/test_conformance.py)."""
    env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    template = env.from_string(str(CONFIG[question]["default"]))
    return template.render(ladder=CONFIG["ladder"]["default"])


@pytest.mark.parametrize("question", [STAGE_QUESTION, TEAM_QUESTION])
def test_default_is_one_of_the_choices(question: str) -> None:
    assert default_answer(question) in choice_values(CONFIG[question])


def test_copier_yml_is_read_as_copier_reads_it() -> None:
    """copier_mlops.config merges copier.yml's documents and `!include`s as Copier does
    (compared with Copier's own loader, which is internal to it and may change)."""
    from copier._template import load_template_config

    assert load_copier_config() == load_template_config(ROOT / "copier.yml")


@pytest.mark.parametrize("name", list(LADDER.components))
def test_component_is_well_formed(name: str) -> None:
    component = LADDER.components[name]
    assert component.get("stage") in STAGES, f"{name}: no stage, or not one of {STAGES}"
    assert component.get("team") in TEAM_SIZES, f"{name}: no team, or not one of {TEAM_SIZES}"
    assert component.get("summary", "").strip(), f"{name}: needs a one-line summary"
    for path in component.get("paths", []):
        assert isinstance(path, str) and path.strip() == path and path, f"{name}: bad path {path!r}"
        # gitignore-style: a leading "/" anchors to the project root; no ./ or ../
        assert not path.startswith(("./", "../")), f"{name}: {path!r} must be project-relative"
        assert "/../" not in path, f"{name}: {path!r} must stay inside the project"


@pytest.mark.parametrize("name", list(LADDER.components))
def test_requires_names_other_components(name: str) -> None:
    requires = LADDER.components[name].get("requires", [])
    assert isinstance(requires, list), f"{name}: `requires` must be a list"
    unknown = [other for other in requires if other not in LADDER.components]
    assert unknown == [], f"{name} requires unknown components"
    assert name not in requires, f"{name} requires itself"
    assert len(set(requires)) == len(requires), f"{name}: `requires` repeats a component"


@pytest.mark.parametrize("name", list(LADDER.components))
def test_only_names_unordered_questions_and_their_choices(name: str) -> None:
    """`only` conditions on answers with choices other than the stage and team size (the
    ladders themselves), and lists values those questions offer."""
    only = LADDER.components[name].get("only", {})
    assert isinstance(only, dict), f"{name}: `only` maps questions to allowed values"
    for question, allowed in only.items():
        assert question in LADDER.choices, (
            f"{name}: `only` names {question!r}, which is not a question with choices"
            f" other than {STAGE_QUESTION} and {TEAM_QUESTION}: one of {list(LADDER.choices)}"
        )
        assert isinstance(allowed, list) and allowed, f"{name}: `only.{question}` lists no values"
        offered = LADDER.choices[question]
        unknown = [value for value in allowed if str(value) not in offered]
        assert unknown == [], f"{name}: `only.{question}` allows values not among {offered}"


def _combinations(
    ladder: Ladder, questions: list[str]
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Every stage x team size x answers to `questions` (unordered choices)."""
    for stage, team_size in itertools.product(ladder.stages, ladder.team_sizes):
        for values in itertools.product(*(ladder.choices[q] for q in questions)):
            yield stage, team_size, dict(zip(questions, values, strict=True))


def _unmet_requirements(ladder: Ladder) -> list[str]:
    """Components on without something they require, for every combination of answers
    that can change what is on: stage, team size and every answer an `only` names."""
    unmet = []
    for stage, team_size, answers in _combinations(ladder, ladder.only_questions()):
        on = ladder.components_on(stage, team_size, answers)
        for name in sorted(on):
            if missing := [other for other in ladder.requires(name) if other not in on]:
                unmet.append(f"{stage}, {team_size}, {answers}: {name} is on without {missing}")
    return unmet


def test_no_component_is_on_without_what_it_requires() -> None:
    assert _unmet_requirements(LADDER) == []


def test_requirements_check_finds_a_component_on_without_what_it_requires() -> None:
    """The check above can fail: with a component that others require never on (its
    `only` allows no answer), every component requiring it is reported."""
    name, required = next(
        (name, other) for name in LADDER.components for other in LADDER.requires(name)
    )
    components = copy.deepcopy(LADDER.components)
    components[required]["only"] = {next(iter(LADDER.choices)): []}
    broken = dataclasses.replace(LADDER, components=components)
    assert any(f": {name} is on without " in problem for problem in _unmet_requirements(broken))


def test_answers_left_out_take_copier_yml_defaults() -> None:
    # A question with more than one choice, so that another answer exists.
    question, default = next(
        (question, default)
        for question, default in LADDER.defaults.items()
        if len(LADDER.choices[question]) > 1
    )
    components = copy.deepcopy(LADDER.components)
    name = next(iter(components))
    components[name]["only"] = {question: [default]}
    ladder = dataclasses.replace(LADDER, components=components)
    other = next(value for value in LADDER.choices[question] if value != default)
    assert name in ladder.components_on(STAGES[-1], TEAM_SIZES[-1])
    assert name not in ladder.components_on(STAGES[-1], TEAM_SIZES[-1], {question: other})


def test_an_answer_that_is_not_a_choice_is_refused() -> None:
    question = next(iter(LADDER.choices))
    with pytest.raises(ValueError, match=question):
        LADDER.components_on(STAGES[0], TEAM_SIZES[0], {question: "no such choice"})


# --------------------------------------------------------------------------------------
# copier.yml's Jinja derivation and copier_mlops.ladder agree
# --------------------------------------------------------------------------------------

Derive = Callable[[Mapping[str, Any]], list[str]]


@pytest.fixture(scope="module")
def copier_components(
    template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Derive]:
    """copier.yml's `components` for some answers, as Copier derives it.

    Copier's own questionnaire runs (its `_ask`, internal to it: the pinned version's),
    which renders every question's default with the answers before it and casts the
    result, without rendering any file: about 40 ms per set of answers.
    """
    dst = tmp_path_factory.mktemp("questionnaire") / "project"
    with Worker(
        src_path=str(template_snapshot),
        dst_path=dst,
        vcs_ref="HEAD",
        defaults=True,
        quiet=True,
        unsafe=False,
    ) as worker:

        def derive(answers: Mapping[str, Any]) -> list[str]:
            worker.data = dict(answers)
            worker._ask()
            components: list[str] = worker.answers.combined["components"]
            return components

        yield derive


def _disagreements(
    ladder: Ladder, questions: list[str], derive: Derive, data: dict[str, Any]
) -> list[str]:
    """Where copier.yml's `components` and `ladder.components_on` differ, in set or in
    order (Copier's list is in components.yml's order, which fragments are included in)."""
    differences = []
    for stage, team_size, answers in _combinations(ladder, questions):
        jinja = derive({STAGE_QUESTION: stage, TEAM_QUESTION: team_size, **answers, **data})
        on = ladder.components_on(stage, team_size, answers)
        python = [name for name in ladder.components if name in on]
        if jinja != python:
            differences.append(
                f"{stage}, {team_size}, {answers}: copier.yml {jinja}, Python {python}"
            )
    return differences


def test_copier_yml_switches_on_what_the_python_rule_does(copier_components: Derive) -> None:
    """Every stage x team size x answer an `only` names."""
    assert _disagreements(LADDER, LADDER.only_questions(), copier_components, {}) == []


def _ladder_conditioned_on_every_choice() -> dict[str, Any]:
    """components.yml's ladder with `only` on every unordered question: one component
    per question allows its first value, the last component allows the last two values
    of every question at once."""
    ladder = copy.deepcopy(CONFIG["ladder"]["default"])
    names = list(ladder["components"])
    assert len(names) > len(LADDER.choices), "too few components to condition each on one choice"
    for name, (question, values) in zip(names, LADDER.choices.items(), strict=False):
        ladder["components"][name]["only"] = {question: values[:1]}
    ladder["components"][names[-1]]["only"] = {
        question: values[-2:] for question, values in LADDER.choices.items()
    }
    return ladder


def test_copier_yml_honours_only_on_every_unordered_question(copier_components: Derive) -> None:
    """The same comparison with a ladder whose components are conditioned on every
    unordered question copier.yml asks (given to Copier as the `ladder` answer), so that a
    question `only` may name but copier.yml's derivation does not pass on is found before
    a component uses it. Every stage x team size x combination of those answers."""
    data = _ladder_conditioned_on_every_choice()
    ladder = Ladder.from_config(CONFIG, data)
    assert ladder.only_questions() == list(LADDER.choices)
    assert _disagreements(ladder, list(LADDER.choices), copier_components, {"ladder": data}) == []


def test_only_leaves_a_components_files_out_end_to_end(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """In a copy of the template where one component is `only: {license: [MIT]}`, a
    render with another licence has none of its files and one with MIT has them; nothing
    else differs in the file set."""
    default_on = LADDER.components_on(default_answer(STAGE_QUESTION), default_answer(TEAM_QUESTION))
    required = {other for name in LADDER.components for other in LADDER.requires(name)}
    name = next(
        name
        for name in LADDER.components
        if name in default_on and name not in required and LADDER.components[name].get("paths")
    )
    other_licence = next(value for value in LADDER.choices["license"] if value != "MIT")

    template = clone(template_snapshot, tmp_path / "copier-mlops")
    components_yml = template / "components.yml"
    data = yaml.safe_load(components_yml.read_text(encoding="utf-8"))
    data["ladder"]["default"]["components"][name]["only"] = {"license": ["MIT"]}
    components_yml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    commit_all(template, f"{name} only for MIT")

    def render(licence: str) -> GeneratedProject:
        dst = tmp_path / licence
        worker = copier.run_copy(
            str(template),
            dst,
            data={"license": licence},
            defaults=True,
            quiet=True,
            unsafe=False,
            vcs_ref="HEAD",
        )
        return GeneratedProject(dst, dict(worker.answers.combined))

    mit, other = render("MIT"), render(other_licence)
    owned = pathspec.GitIgnoreSpec.from_lines(LADDER.components[name]["paths"])
    theirs = {path for path in mit.files() if owned.match_file(path)}
    assert theirs, f"{name} is on with MIT, but none of its files was generated"
    assert mit.files() - other.files() == theirs, f"{name}'s files with {other_licence}"
    assert other.files() - mit.files() == set()


def test_derived_values_are_never_asked() -> None:
    """The ladder, the component list, the service contract, the reserved names and the
    characters no answer may hold are computed, not asked."""
    derived = (
        "ladder",
        "components",
        "service",
        "reserved_names",
        "forbidden_characters",
        "project_slug",
        # The CI provider's addresses and words.
        "repository_url",
        "repository_pages",
        "image_name",
        "platform_name",
        "release_page",
        "change_request",
        "update_bot",
        "uv_version",
    )
    for key in derived:
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
