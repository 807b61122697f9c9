"""`copier update` moves a project up the ladder without losing the user's work.

From each stage below the last, for each problem type the move adds components to: the
user edits every file the template changes between that stage and the last (found by
rendering both), once where the template changes it and once far from any change, then
moves up with `copier update`. An edit far from the template's changes must merge; an
edit where the template changes the file must merge or show as a conflict (inline
markers or a .rej file). None may be lost silently.
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest

from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.ladder import STAGES, TEAM_SIZES, components_on, load_ladder

from helpers.template_repo import commit_all, git

LAST = STAGES[-1]
TEAM = TEAM_SIZES[0]
ANSWERS_FILE = ".copier-answers.yml"
# Lines between an edit and any other change: more than the 3 lines of context on each
# side of the patch Copier applies, so the edit's hunk applies wherever it stands.
GAP = 8
# The user's edits are comments in the file's own syntax.
COMMENTS = {".md": ("<!-- ", " -->"), ".json": ("// ", "")}
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")
PROBLEM_TYPES = choice_values(load_copier_config()["problem_type"])
# Each move up to the last stage that adds components, as (problem type, first stage).
MOVES = [
    (problem_type, first)
    for problem_type in PROBLEM_TYPES
    for first in STAGES[:-1]
    if components_on(LAST, TEAM, {"problem_type": problem_type})
    - components_on(first, TEAM, {"problem_type": problem_type})
]


@dataclass(frozen=True)
class Edit:
    path: str
    line: str
    where_template_changes: bool


def _render(template: Path, dst: Path, stage: str, problem_type: str) -> Path:
    copier.run_copy(
        str(template),
        dst,
        data={"maturity_stage": stage, "team_size": TEAM, "problem_type": problem_type},
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref="HEAD",
    )
    return dst


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module", params=MOVES, ids=[f"{t}-from-{s}" for t, s in MOVES])
def stages(
    request: pytest.FixtureRequest,
    template_snapshot: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """For a move, the first and last stages rendered, and the files both have but differ
    in."""
    problem_type, first_stage = request.param
    tmp = tmp_path_factory.mktemp("stages")
    first = _files(_render(template_snapshot, tmp / first_stage, first_stage, problem_type))
    last = _files(_render(template_snapshot, tmp / LAST, LAST, problem_type))
    changed = sorted(
        path
        for path in first
        if path in last and first[path] != last[path] and path != ANSWERS_FILE
    )
    return {
        "problem_type": problem_type,
        "first_stage": first_stage,
        "first_dir": tmp / first_stage,
        "first": first,
        "last": last,
        "changed": changed,
    }


def _edit(path: str, before: str, after: str) -> tuple[str, list[Edit]]:
    """The user's version of `before`: one line added where the template changes the
    file on the way to `after`, and one at least GAP lines from any change."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    opening, closing = COMMENTS.get(Path(path).suffix, ("# ", ""))
    changes = [
        (i1, i2)
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(
            None, old, new, autojunk=False
        ).get_opcodes()
        if tag != "equal"
    ]
    at_change = changes[0][0]
    far = next(
        (
            k
            for k in range(len(old) + 1)
            if abs(k - at_change) >= GAP
            and all(k <= i1 - GAP or k >= i2 + GAP for i1, i2 in changes)
        ),
        None,
    )
    edits = {
        at_change: Edit(path, f"{opening}Ours, where the template changes {path}.{closing}", True)
    }
    if far is not None:
        edits[far] = Edit(path, f"{opening}Ours, far from the template's changes.{closing}", False)
    for index in sorted(edits, reverse=True):
        old.insert(index, edits[index].line + "\n")
    return "".join(old), list(edits.values())


def _conflicted(project: Path) -> set[str]:
    """Files with inline conflict markers, and files with a .rej beside them."""
    found = set()
    for path in project.rglob("*"):
        if not path.is_file() or ".git" in path.relative_to(project).parts:
            continue
        rel = path.relative_to(project).as_posix()
        if rel.endswith(".rej"):
            found.add(rel.removesuffix(".rej"))
        elif any(
            line.startswith(CONFLICT_MARKERS)
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        ):
            found.add(rel)
    return found


def _first_stage_project(stages: dict[str, Any], tmp_path: Path) -> Path:
    """The first stage's render, as a user's committed repository."""
    project = tmp_path / "project"
    shutil.copytree(stages["first_dir"], project)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate")
    return project


def _move_up(project: Path, **options: Any) -> None:
    """`copier update --data maturity_stage=<last>`, without --trust."""
    copier.run_update(
        project,
        data={"maturity_stage": LAST},
        defaults=True,
        unsafe=False,
        quiet=True,
        overwrite=True,
        vcs_ref="HEAD",
        **options,
    )


@pytest.mark.parametrize("conflict", ["inline", "rej"])
def test_update_moves_up_a_stage_and_keeps_user_edits(
    template_snapshot: Path, tmp_path: Path, stages: dict[str, Any], conflict: str
) -> None:
    assert stages["changed"], f"no file changes from {stages['first_stage']}: nothing to test"
    project = _first_stage_project(stages, tmp_path)

    edits: list[Edit] = []
    for path in stages["changed"]:
        text, file_edits = _edit(path, stages["first"][path], stages["last"][path])
        (project / path).write_text(text, encoding="utf-8")
        edits += file_edits
    (project / "notes.md").write_text("Ours.\n", encoding="utf-8")
    commit_all(project, "Our edits")
    assert any(not e.where_template_changes for e in edits), "no place far from changes"

    _move_up(project, conflict=conflict)

    conflicted = _conflicted(project)
    assert conflicted <= set(stages["changed"]), (
        f"conflicts in files the user left alone: {conflicted}"
    )
    for edit in edits:
        text = (project / edit.path).read_text(encoding="utf-8")
        rejected = project / f"{edit.path}.rej"
        if edit.where_template_changes:
            kept = edit.line in text or (rejected.exists() and edit.line in rejected.read_text())
            assert kept, f"{edit.path}: the user's edit where the template changes is lost"
        else:
            assert edit.line in text, f"{edit.path}: the user's edit far from changes is lost"
    # The files no conflict touched are the last stage's, with the user's lines added.
    for path in set(stages["changed"]) - conflicted:
        ours = {e.line + "\n" for e in edits if e.path == path}
        lines = (project / path).read_text(encoding="utf-8").splitlines(keepends=True)
        assert [line for line in lines if line not in ours] == stages["last"][path].splitlines(
            keepends=True
        ), f"{path}: merged without a conflict, but not to the last stage's content"
    assert (project / "notes.md").read_text(encoding="utf-8") == "Ours.\n"

    # Every file of the components the new stage adds is now there.
    ladder = load_ladder()
    answers = {"problem_type": stages["problem_type"]}
    added = components_on(LAST, TEAM, answers) - components_on(stages["first_stage"], TEAM, answers)
    assert added
    for name in added:
        for pattern in ladder.components[name].get("paths", []):
            assert list(project.glob(pattern.lstrip("/"))), f"{pattern} of {name} missing"
    answers = (project / ANSWERS_FILE).read_text(encoding="utf-8")
    assert f"maturity_stage: {LAST}" in answers


def test_update_without_edits_gives_the_last_stage_as_generated(
    tmp_path: Path, stages: dict[str, Any]
) -> None:
    """Moving up leaves exactly what generating the last stage gives, so a project that
    moved up is as good as a new one (each stage's new projects are checked elsewhere)."""
    project = _first_stage_project(stages, tmp_path)
    _move_up(project)
    moved = {path: text for path, text in _files(project).items() if path != ANSWERS_FILE}
    fresh = {path: text for path, text in stages["last"].items() if path != ANSWERS_FILE}
    assert sorted(moved) == sorted(fresh)
    differ = [path for path in fresh if moved[path] != fresh[path]]
    assert differ == [], f"moved up, these differ from a new {LAST} project: {differ}"
