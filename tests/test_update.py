"""`copier update` moves a project up the ladder without losing the user's work."""

from __future__ import annotations

from pathlib import Path

import copier
from generated_project import GIT_ENV, STAGES, TEAM_SIZES, clean_env, components_on, load_ladder
from generated_project import run as run_command

USER_LINE = "# Our team's note: the wine data stands in for our own data.\n"


def _git(project: Path, *args: str) -> str:
    env = {**clean_env(), **GIT_ENV}
    return run_command(["git", *args], project, env=env).stdout


def test_update_moves_up_a_stage_and_keeps_user_edits(
    template_snapshot: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    first, last = STAGES[0], STAGES[-1]
    copier.run_copy(
        str(template_snapshot),
        project,
        data={"maturity_stage": first, "team_size": TEAM_SIZES[0]},
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref="HEAD",
    )
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "Generate")

    # The user edits a generated module and adds a file of their own.
    data_module = next(project.glob("src/*/data.py"))
    data_module.write_text(USER_LINE + data_module.read_text(encoding="utf-8"), encoding="utf-8")
    (project / "notes.md").write_text("Ours.\n", encoding="utf-8")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "Our edits")

    copier.run_update(
        project,
        data={"maturity_stage": last},
        defaults=True,
        unsafe=False,
        quiet=True,
        overwrite=True,
        conflict="inline",
        vcs_ref="HEAD",
    )

    assert data_module.read_text(encoding="utf-8").startswith(USER_LINE)
    assert (project / "notes.md").read_text(encoding="utf-8") == "Ours.\n"
    # Every file of the components the new stage adds is now there.
    ladder = load_ladder()
    added = components_on(last, TEAM_SIZES[0]) - components_on(first, TEAM_SIZES[0])
    assert added
    for name in added:
        for pattern in ladder["components"][name].get("paths", []):
            assert list(project.glob(pattern.lstrip("/"))), f"{pattern} of {name} missing"
    answers = (project / ".copier-answers.yml").read_text(encoding="utf-8")
    assert f"maturity_stage: {last}" in answers
    # No conflict markers anywhere: the template's and the user's changes merged cleanly.
    env = {**clean_env(), **GIT_ENV}
    markers = ["git", "grep", "-l", "-e", "^<<<<<<< ", "--", "."]
    grep = run_command(markers, project, env, check=False)
    assert grep.returncode == 1, f"conflict markers in: {grep.stdout}"
