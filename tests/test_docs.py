"""The docs' stage matrix is generated from components.yml and must be current."""

from __future__ import annotations

import sys
from pathlib import Path

from copier_mlops import ROOT
from copier_mlops.processes import run

from helpers.template_repo import clone, commit_all, git_env, tag_release

SCRIPT = "docs/stage_matrix.py"


def test_stage_matrix_page_is_current() -> None:
    proc = run([sys.executable, SCRIPT, "--check"], ROOT, check=False)
    assert proc.returncode == 0, proc.stderr + "\nrun: uv run python docs/stage_matrix.py"


def test_stage_matrix_renders_head_not_the_newest_release(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """With a release tagged and a template change after it, the check fails on the page
    that lacks the change, and the page written then has it."""
    template = clone(template_snapshot, tmp_path / "copier-mlops")
    run([sys.executable, SCRIPT], template, env=git_env())
    commit_all(template, "The stage matrix page")
    tag_release(template, "v0.1.0")
    (template / "template" / "ADDED_AFTER_THE_RELEASE.md").write_text("New.\n", encoding="utf-8")
    commit_all(template, "A file added after the release")

    stale = run([sys.executable, SCRIPT, "--check"], template, env=git_env(), check=False)
    assert stale.returncode == 1, "the check passed a stale page: it rendered the release tag"
    run([sys.executable, SCRIPT], template, env=git_env())
    page = (template / "docs" / "stage-matrix.md").read_text(encoding="utf-8")
    assert "ADDED_AFTER_THE_RELEASE.md" in page
