"""Every stage x team size renders exactly the files components.yml says, fully rendered,
for the combinations of the other answers that change which components are on.

"All the files the template can produce" are those of the renders at the last stage and
the largest team, one for each combination of the answers a component's `only` names
(one render while no component has an `only`). For any combination of answers a file is
expected when no component claims it or the components that claim it are on. Claims are
matched with the same gitignore-style rules Copier's `_exclude` uses (pathspec).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pathspec
import pytest

from copier_mlops import ROOT
from copier_mlops.ladder import LADDER, STAGES, TEAM_SIZES, components_on

from helpers.generated_project import GeneratedProject

# Every combination of the unordered answers some component's `only` names.
ONLY_ANSWERS = [
    dict(zip(LADDER.only_questions(), values, strict=True))
    for values in itertools.product(*(LADDER.choices[q] for q in LADDER.only_questions()))
]
# The unordered questions a component that only larger teams get is conditioned on (the
# CI provider's review files): those answers change the file set from one team size to
# the next, the others only from one stage to the next.
TEAM_BOUND = {
    question
    for name, component in LADDER.components.items()
    if component["team"] != TEAM_SIZES[0]
    for question in LADDER.only(name)
}


def _combinations() -> list[tuple[str, str, dict[str, str]]]:
    """Every stage at every team size with each combination of the team-bound answers
    (the others at their defaults), and every stage at the largest team, where every
    component is on that the stage allows, with each combination of all the answers."""
    chosen = []
    for stage, team, answers in itertools.chain(
        (
            (stage, team, {q: a for q, a in answers.items() if q in TEAM_BOUND})
            for stage in STAGES
            for team in TEAM_SIZES
            for answers in ONLY_ANSWERS
        ),
        ((stage, TEAM_SIZES[-1], answers) for stage in STAGES for answers in ONLY_ANSWERS),
    ):
        full = {**{q: LADDER.defaults[q] for q in LADDER.only_questions()}, **answers}
        if (stage, team, full) not in chosen:
            chosen.append((stage, team, full))
    return chosen


COMBINATIONS = [
    pytest.param(stage, team, answers, id="-".join([stage, team, *answers.values()]))
    for stage, team, answers in _combinations()
]


@pytest.fixture(scope="module")
def maximal_renders(render: Callable[..., GeneratedProject]) -> list[GeneratedProject]:
    """The renders with every component on that some answers switch on."""
    return [
        render(maturity_stage=STAGES[-1], team_size=TEAM_SIZES[-1], **answers)
        for answers in ONLY_ANSWERS
    ]


@pytest.fixture(scope="module")
def all_files(maximal_renders: list[GeneratedProject]) -> set[str]:
    """Every file the template can produce."""
    return set().union(*(project.files() for project in maximal_renders))


def test_every_file_has_one_owner(all_files: set[str]) -> None:
    """With one owner per file, "its component is on" is unambiguous: a file is claimed
    by one component, or by nested claims of components that require each other."""
    double = {}
    for path in sorted(all_files):
        try:
            LADDER.owner(path)
        except ValueError as error:
            double[path] = str(error)
    assert double == {}, "files claimed by more than one component in components.yml"


@pytest.mark.parametrize(
    ("component", "path"),
    [
        (name, path)
        for name, component in LADDER.components.items()
        for path in component.get("paths", [])
    ],
)
def test_every_claimed_path_exists(all_files: set[str], component: str, path: str) -> None:
    """A path in components.yml that matches nothing is a typo or a missing file."""
    spec = pathspec.GitIgnoreSpec.from_lines([path])
    assert any(spec.match_file(f) for f in all_files), (
        f"{component}: {path!r} matches no generated file"
    )


def test_every_template_file_is_generated_when_all_is_on(
    maximal_renders: list[GeneratedProject], all_files: set[str]
) -> None:
    """Nothing in template/ is lost: each file renders to a file of a maximal project."""
    context: dict[str, Any] = {
        **maximal_renders[0].answers,
        "_copier_conf": {"answers_file": ".copier-answers.yml"},
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    template = ROOT / "template"
    expected = set()
    for source in template.rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            rel = source.relative_to(template).as_posix()
            name = env.from_string(rel).render(context)
            expected.add(name.removesuffix(".jinja"))
    assert sorted(expected - all_files) == []


UNRENDERED = re.compile(
    # {{ var }} but not GitHub's ${{ }} or Go templates' {{ .Field }} and {{ $variable }}
    # (Prometheus' alert annotations)
    r"(?<!\$)\{\{(?!\s*[.$])"
    r"|\{%|%\}"
    r"|(?<!\$)\{#"  # {# comment #} but not the shell's ${#var}
)


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


@pytest.mark.parametrize(("stage", "team_size", "answers"), COMBINATIONS)
def test_generated_files_match_components_yml(
    render: Callable[..., GeneratedProject],
    all_files: set[str],
    stage: str,
    team_size: str,
    answers: dict[str, str],
) -> None:
    project = render(maturity_stage=stage, team_size=team_size, **answers)
    on = components_on(stage, team_size, answers)
    expected = {path for path in all_files if all(owner in on for owner in LADDER.claimants(path))}
    actual = project.files()
    assert {"missing": sorted(expected - actual), "unexpected": sorted(actual - expected)} == {
        "missing": [],
        "unexpected": [],
    }

    leftovers = []
    for rel in sorted(actual):
        path = project.path / rel
        assert not rel.endswith(".jinja"), f"{rel} kept its .jinja suffix"
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if UNRENDERED.search(line):
                leftovers.append(f"{rel}:{number}: {line.strip()}")
    assert leftovers == [], "unrendered Jinja"


@pytest.mark.parametrize(("stage", "team_size", "answers"), COMBINATIONS)
def test_no_folder_is_empty(
    render: Callable[..., GeneratedProject], stage: str, team_size: str, answers: dict[str, str]
) -> None:
    """Git cannot track an empty folder, so one would be lost on the first clone: a folder
    whose files all belong to a component that is off must go too."""
    project = render(maturity_stage=stage, team_size=team_size, **answers)
    empty = sorted(
        path.relative_to(project.path).as_posix()
        for path in project.path.rglob("*")
        if path.is_dir() and ".git" not in path.parts and not any(path.iterdir())
    )
    assert empty == []


@pytest.mark.parametrize(("stage", "team_size"), [(s, TEAM_SIZES[-1]) for s in STAGES])
def test_generated_text_is_tidy(
    render: Callable[..., GeneratedProject], stage: str, team_size: str
) -> None:
    """No stray blank lines or trailing spaces from Jinja, no TODOs, one final newline.

    Python files are left to `ruff format --check` in the lifecycle tests.
    """
    project = render(maturity_stage=stage, team_size=team_size)
    problems = []
    for rel in sorted(project.files()):
        text = _text(project.path / rel)
        if text is None or rel.endswith(".py") or not text:
            continue
        lines = text.split("\n")
        if not text.endswith("\n") or text.endswith("\n\n"):
            problems.append(f"{rel}: must end with exactly one newline")
        if lines[0].strip() == "":
            problems.append(f"{rel}: starts with a blank line")
        for number, line in enumerate(lines, 1):
            if line != line.rstrip():
                problems.append(f"{rel}:{number}: trailing whitespace")
            if (
                number > 1
                and not line.strip()
                and not lines[number - 2].strip()
                and number < len(lines)
            ):
                problems.append(f"{rel}:{number}: two blank lines in a row")
            if re.search(r"\b(TODO|FIXME|XXX)\b", line):
                problems.append(f"{rel}:{number}: {line.strip()}")
    assert problems == []
