"""A project generated with the README's command updates with docs/updating.md's commands.

Both are read from the docs and run as written, with bash, in a clone of the template:
the same commands a user copies from the pages. Only the README's `pip install uv && `
is left out (the tests run with uv already installed), and `uvx` resolves `copier>=9.18`
from the package index as it does for a user (uv's cache keeps it quick).

Two clones as users have them: one with commits after the last release (main between
releases), one on a release tag whose next release is tagged later.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from copier_mlops import ROOT

from helpers.template_repo import (
    append_and_commit,
    clone,
    commit_all,
    git,
    only_command,
    run_documented,
    tag_release,
)

README = ROOT / "README.md"
UPDATING = ROOT / "docs" / "updating.md"
FROM_A_CLONE = "A project generated from a clone (the README's command)"
FROM_THE_URL = "A project generated from the repository's URL"
# The later template commits change the README; the user edits the Makefile.
TEMPLATE_FILE, RENDERED_FILE = "template/README.md.jinja", "README.md"
USER_LINE = "# Our team's own note, kept across updates.\n"


def _generate(template: Path) -> Path:
    """The README's generate command, run in the template's clone."""
    command = only_command(README, "Generate a project", "copier copy")
    run_documented(command.removeprefix("pip install uv && "), template)
    project = template.parent / "my-ml-project"
    assert (project / ".copier-answers.yml").is_file(), f"`{command}` made no project there"
    return project


def _start_work(project: Path) -> Path:
    """As a user does after generating: commit, then edit a generated file and commit."""
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate")
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text(encoding="utf-8") + USER_LINE, encoding="utf-8")
    commit_all(project, "Our note")
    return makefile


def _answers(project: Path) -> dict[str, object]:
    text = (project / ".copier-answers.yml").read_text(encoding="utf-8")
    answers: dict[str, object] = yaml.safe_load(text)
    return answers


def _update(project: Path, heading: str) -> str:
    """Run the documented update; the rendered file the template commits change."""
    run_documented(only_command(UPDATING, heading, "copier update"), project)
    markers = run_documented("git grep -l -e '^<<<<<<< ' -- .", project, check=False)
    assert markers.returncode == 1, f"conflict markers in: {markers.stdout}"
    return (project / RENDERED_FILE).read_text(encoding="utf-8")


def test_clone_with_commits_after_the_last_release(template_snapshot: Path, tmp_path: Path) -> None:
    template = clone(template_snapshot, tmp_path / "copier-mlops")
    tag_release(template, "v0.1.0")
    after_release = "A template change after the last release."
    append_and_commit(template, TEMPLATE_FILE, after_release)

    project = _generate(template)
    assert after_release in (project / RENDERED_FILE).read_text(encoding="utf-8"), (
        "the README's command generated the last release, not what the clone has checked out"
    )
    makefile = _start_work(project)
    later = "A later template change."
    append_and_commit(template, TEMPLATE_FILE, later)

    # Before the fix: `_src_path: .`, and both commands failed with "Unknown revision".
    check = only_command(UPDATING, FROM_THE_URL, "copier check-update")
    assert run_documented(check, project).returncode == 0
    assert later in _update(project, FROM_A_CLONE), "the update missed the new commit"
    assert USER_LINE in makefile.read_text(encoding="utf-8"), "the update lost the user's edit"
    head = git(template, "rev-parse", "--short", "HEAD").strip()
    assert str(_answers(project)["_commit"]).endswith(f"g{head}")


def test_clone_on_a_release_tag(template_snapshot: Path, tmp_path: Path) -> None:
    template = clone(template_snapshot, tmp_path / "copier-mlops")
    tag_release(template, "v0.1.0")

    project = _generate(template)
    assert _answers(project)["_commit"] == "v0.1.0"
    makefile = _start_work(project)
    release = "A change in the next release."
    append_and_commit(template, TEMPLATE_FILE, release)
    tag_release(template, "v0.2.0")

    check = only_command(UPDATING, FROM_THE_URL, "copier check-update")
    assert "0.2.0" in run_documented(check, project).stdout, "check-update missed v0.2.0"
    assert release in _update(project, FROM_A_CLONE)
    assert _answers(project)["_commit"] == "v0.2.0"
    commit_all(project, "Update to v0.2.0")

    # A project at a release also takes the next one with the plain update.
    another = "A change in the release after."
    append_and_commit(template, TEMPLATE_FILE, another)
    tag_release(template, "v0.3.0")
    text = _update(project, FROM_THE_URL)
    assert another in text and release in text
    assert _answers(project)["_commit"] == "v0.3.0"
    assert USER_LINE in makefile.read_text(encoding="utf-8")
