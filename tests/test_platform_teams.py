"""docs/platform-teams.md walks a platform team through its path; the commands' output it
shows is what they print, for the fleet the page describes: two repositories generated
with the example data file at two releases, one of them out of conformance."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from copier_mlops import ROOT
from copier_mlops.processes import clean_env, find_python, run

from helpers.locking import lock
from helpers.template_repo import (
    clone,
    commit_all,
    git,
    only_command,
    run_documented,
    tag_release,
)

DOC = ROOT / "docs" / "platform-teams.md"
ORG_DEFAULTS = ROOT / "docs" / "examples" / "org-defaults.yml"
# The page's stand-in for the template's URL.
DOC_URL = "https://github.com/<owner>/copier-mlops"
MARKER = re.compile(r"<!-- output: (\S+) -->\n```text\n(.*?)```", re.S)


def shown_outputs() -> dict[str, str]:
    """The outputs the page shows, by name: each ```text block after an
    `<!-- output: name -->` line."""
    return {name: block for name, block in MARKER.findall(DOC.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def fleet(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page's fleet, made with its own commands: churn-predictor at v0.1.0 with its
    CODEOWNERS deleted, fraud-scorer at v0.2.0."""
    folder = tmp_path_factory.mktemp("platform")
    template = clone(template_snapshot, folder / "copier-mlops")
    tag_release(template, "v0.1.0")
    (folder / "org-defaults.yml").write_text(ORG_DEFAULTS.read_text(encoding="utf-8"))
    generate = only_command(DOC, "Generate a repository", "copier copy").replace(
        DOC_URL, str(template)
    )
    run_documented(generate, folder)
    commit_all(template, "The next release")
    tag_release(template, "v0.2.0")
    run_documented(
        generate.replace("v0.1.0", "v0.2.0")
        .replace("Churn Predictor", "Fraud Scorer")
        .replace("churn-predictor", "fraud-scorer"),
        folder,
    )
    for name in ("churn-predictor", "fraud-scorer"):
        lock(folder / name)
        git(folder / name, "init", "-q", "-b", "main")
        commit_all(folder / name, "Generate")
    (folder / "churn-predictor" / ".github" / "CODEOWNERS").unlink()
    commit_all(folder / "churn-predictor", "Drop CODEOWNERS")
    return folder


def test_the_page_is_linked_from_the_readme() -> None:
    assert "(docs/platform-teams.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_page_shows_what_make_conformance_prints(fleet: Path) -> None:
    project = fleet / "churn-predictor"
    # The project's Python, as uv finds it on a user's machine.
    python = find_python((project / ".python-version").read_text(encoding="utf-8").strip())
    proc = run(
        ["make", "conformance"], project, env=clean_env({"UV_PYTHON": str(python)}), check=False
    )
    assert proc.returncode == 2, proc.stderr  # make's own code when its recipe fails
    # make echoes the recipe with the uv the tests run.
    printed = re.sub(r"^\S*/uv ", "uv ", proc.stdout)
    assert shown_outputs()["conformance"] == printed, f"update docs/platform-teams.md:\n{printed}"


def test_the_page_shows_what_the_fleet_report_prints(fleet: Path) -> None:
    report = only_command(DOC, "The fleet report", "copier_mlops.fleet")
    # Run from the template's clone, as the page says, with this interpreter.
    command = report.replace("uv run python", sys.executable)
    proc = run_documented(command, fleet / "copier-mlops", check=False)
    assert proc.returncode == 1
    assert shown_outputs()["fleet"] == proc.stdout, f"update docs/platform-teams.md:\n{proc.stdout}"
