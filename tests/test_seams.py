"""The template's seams hold: each later capability slots in by adding files.

- Templates switch on components by name, never by comparing the stage or team size.
- Only the problem-type files (problem_types/) and copier.yml compare the problem type.
- A component's conditions (`{% if "serving" in components %}` and the like) inside a
  file that is not that component's own stay within a budget that only goes down
  (tests/seams_budget.yml): its part of a shared file belongs in a fragment,
  fragments/<component>/<file>.jinja, which the shared file includes in a loop.

A file is a component's own when components.yml's `paths` of the component claim what it
renders to, or when it lies in fragments/<component>/. Every other file is shared: the
README, the Makefile, pyproject.toml, the settings module, and also a file one component
owns that another component's condition reaches into (CONTRIBUTING.md, the CI workflow).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
import yaml

from copier_mlops import ROOT
from copier_mlops.ladder import LADDER

BUDGET_FILE = ROOT / "tests" / "seams_budget.yml"
# Where Copier reads Jinja from: the project tree, the components' fragments and the
# problem types' files (both included from the repository root).
SOURCES = ("template", "fragments", "problem_types")

_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_BLOCK = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_STRING = re.compile(r"""(["'])([^"'\n]*)\1""")


def jinja_blocks(text: str) -> list[str]:
    """The statements and expressions of a template, comments left out."""
    return _BLOCK.findall(_COMMENT.sub("", text))


def component_conditions(text: str, components: set[str]) -> list[str]:
    """The components a template's Jinja tests by name: the quoted name in a statement
    or expression on the `components` answer (`"x" in components`, `"x" not in
    components`, `["x", "y"] | select("in", components)`). Reading the ladder
    (`ladder.components`) and looping over the answer (`for name in components`, which
    names no component) are no conditions."""
    named = []
    for block in jinja_blocks(text):
        answer = re.sub(r"\bladder\.components\b", "", block)
        if not re.search(r"\bcomponents\b", answer):
            continue
        for string in _STRING.finditer(answer):
            tested = re.match(r"\s*(?:not\s+)?in\s+components\b", answer[string.end() :])
            if string.group(2) in components or tested:
                named.append(string.group(2))
    return named


def problem_type_comparisons(text: str) -> list[str]:
    """Statements and expressions that compare the problem_type answer (`==`, `!=`,
    `in`, `is`, ...). Using it as a name, as in `{% include "problem_types/" ~
    problem_type ~ "/model.py.jinja" %}`, is no comparison."""
    found = []
    for block in jinja_blocks(text):
        code = _STRING.sub('""', block)
        # A loop's `for x in` is not a comparison; its iterable and condition may be.
        code = re.sub(r"^\{%-?\s*for\b.*?\bin\b", "", code, flags=re.DOTALL)
        if re.search(r"\bproblem_type\b", code) and re.search(
            r"==|!=|[<>]|\bin\b|\bis\b|\.(?:startswith|endswith)\b", code
        ):
            found.append(block)
    return found


def _sources() -> Iterator[Path]:
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def owner(path: Path) -> str | None:
    """The component whose own file `path` is, or None for a shared file."""
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "fragments":
        return rel.parts[1] if len(rel.parts) > 2 and rel.parts[1] in LADDER.components else None
    if rel.parts[0] != "template":
        return None
    # The path it renders to, with a stand-in package name (`*` in components.yml).
    name = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False).from_string(  # noqa: S701
        path.relative_to(ROOT / "template").as_posix()
    )
    context = {"package_name": "package", "_copier_conf": {"answers_file": ".copier-answers.yml"}}
    return LADDER.owner(name.render(context).removesuffix(".jinja"))


def conditions_in_others_files() -> dict[str, int]:
    """Per source file (relative to the repository), how many of its component
    conditions name a component other than the file's owner."""
    components = set(LADDER.components)
    counts = {}
    for path in _sources():
        own = owner(path)
        count = sum(1 for name in component_conditions(_text(path), components) if name != own)
        if count:
            counts[path.relative_to(ROOT).as_posix()] = count
    return counts


def test_templates_test_components_not_stages() -> None:
    """Templates switch on components by name, never by comparing the stage or team size
    answers, which would restate the ladder outside components.yml. (Looking a stage up
    in the ladder, e.g. to name the next one, is reading it, and fine.)"""
    answer = r"\b(?:maturity_stage|team_size)\b"
    comparison = re.compile(
        rf"{answer}\s*(?:==|!=|<|>|\bin\b|\bnot\s+in\b)|(?:==|!=|<|>)\s*{answer}"
    )
    offenders = [
        f"{path.relative_to(ROOT)}: {block}"
        for path in _sources()
        for block in jinja_blocks(_text(path))
        if comparison.search(block)
    ]
    assert offenders == []


def test_only_problem_type_files_compare_the_problem_type() -> None:
    """What differs by problem type lives in problem_types/<type>/; everything else is
    task-neutral and includes from there (copier.yml may derive values from it)."""
    offenders = [
        f"{path.relative_to(ROOT)}: {block}"
        for path in _sources()
        if path.relative_to(ROOT).parts[0] != "problem_types"
        for block in problem_type_comparisons(_text(path))
    ]
    assert offenders == []


def test_component_conditions_stay_within_their_budget() -> None:
    """No new component condition in a file that is not the component's own; and when
    a file loses some, its budget comes down with it."""
    budget: dict[str, int] = yaml.safe_load(BUDGET_FILE.read_text(encoding="utf-8"))["budget"]
    counts = conditions_in_others_files()
    over = {f: f"{n} > {budget.get(f, 0)}" for f, n in counts.items() if n > budget.get(f, 0)}
    under = {f: f"{counts.get(f, 0)} < {n}" for f, n in budget.items() if counts.get(f, 0) < n}
    total = f"{sum(counts.values())} in {len(counts)} files, budget {sum(budget.values())}"
    assert over == {}, (
        f"component conditions in shared files ({total}) over budget: move the component's"
        " part into fragments/<component>/ and include it in a loop (docs/developing.md)"
    )
    assert under == {}, (
        f"component conditions in shared files ({total}): fewer than the budget; lower it"
        f" in {BUDGET_FILE.relative_to(ROOT)} to the counts"
    )


def test_every_fragment_folder_is_a_component() -> None:
    """Shared files include fragments/<name>/ for every component that is on: a folder
    named otherwise would never be included."""
    folders = [p.name for p in (ROOT / "fragments").iterdir() if p.is_dir()]
    assert sorted(set(folders) - set(LADDER.components)) == []


# --------------------------------------------------------------------------------------
# The checks themselves find what they look for
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{% if "serving" in components %}x{% endif %}', ["serving"]),
        ("{%- if 'registry' in components and \"cd\" not in components -%}", ["registry", "cd"]),
        ('{{ "yes" if "container" in components else "no" }}', ["container"]),
        (
            '{% if ["serving", "batch_scoring"] | select("in", components) | list %}',
            ["serving", "batch_scoring"],
        ),
        ('{% if "not_a_component" in components %}', ["not_a_component"]),
        ('{% for name in components %}{% include "fragments/" ~ name ~ "/a.jinja" %}', []),
        ("{% for name, c in ladder.components.items() if name in components %}{% endfor %}", []),
        ('{{ components | join(", ") }}', []),
        ('{# {% if "serving" in components %} #}', []),
        ('"serving" in components, outside Jinja', []),
    ],
)
def test_component_conditions_are_found(template: str, expected: list[str]) -> None:
    assert component_conditions(template, set(LADDER.components)) == expected


@pytest.mark.parametrize(
    ("template", "compares"),
    [
        ('{% if problem_type == "regression" %}', True),
        ("{%- if problem_type != 'forecasting' -%}", True),
        ('{% if problem_type in ["regression", "forecasting"] %}', True),
        ('{% if "forecast" in problem_type %}', True),
        ('{% set regression = problem_type is eq("regression") %}', True),
        ('{{ "interval" if problem_type.startswith("reg") }}', True),
        ('{% include "problem_types/" ~ problem_type ~ "/model.py.jinja" %}', False),
        ("{% for feature in problem_types[problem_type].features %}", False),
        ("{{ problem_type }}", False),
        ('{% if "serving" in components %}', False),
    ],
)
def test_problem_type_comparisons_are_found(template: str, compares: bool) -> None:
    assert bool(problem_type_comparisons(template)) is compares
