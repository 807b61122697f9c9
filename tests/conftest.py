"""Shared fixtures: the ladder from components.yml, a snapshot of the template, renders.

Every render comes from a snapshot of the working tree (tracked and untracked files that
git does not ignore) committed into a throwaway git repository. Copier therefore renders
through its git path, as it does for a user's clone or URL, and the tests still see
uncommitted changes while the template is being developed. In a fresh clone (CI) the
snapshot is exactly HEAD.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from copier_mlops import ROOT
from copier_mlops.ladder import STAGES, TEAM_SIZES
from copier_mlops.processes import GIT_ENV, clean_env, run, uv_executable

from helpers.generated_project import Builds, GeneratedProject


def _snapshot_files() -> list[Path]:
    """Files of the working tree that a commit would hold (ignored files left out)."""
    if (ROOT / ".git").exists():
        listing = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return sorted({Path(p) for p in listing.split("\0") if p and (ROOT / p).is_file()})
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
    return sorted(
        p.relative_to(ROOT)
        for p in ROOT.rglob("*")
        if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts)
    )


@pytest.fixture(scope="session")
def template_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding the template as it is in the working tree now."""
    snapshot = tmp_path_factory.mktemp("template") / "copier-mlops"
    for rel in _snapshot_files():
        (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, snapshot / rel)
    env = {**clean_env(), **GIT_ENV}
    run(["git", "init", "-q", "-b", "main"], snapshot, env=env)
    run(["git", "add", "-A"], snapshot, env=env)
    run(["git", "commit", "-q", "--no-verify", "-m", "snapshot"], snapshot, env=env)
    return snapshot


@pytest.fixture(scope="session")
def render(copie_session: Any, template_snapshot: Path) -> Callable[..., GeneratedProject]:
    """Render the template with pytest-copie; returns the generated project.

    Answers not given fall back to the template's defaults. Fails the test with Copier's
    own error when generation fails. Renders are shared between tests that only read
    them; `fresh=True` gives a project of one's own to change.
    """

    cache: dict[tuple[tuple[str, str], ...], GeneratedProject] = {}

    def _render(*, fresh: bool = False, **answers: Any) -> GeneratedProject:
        key = tuple(sorted((k, repr(v)) for k, v in answers.items()))
        if not fresh and key in cache:
            return cache[key]
        result = copie_session.copy(
            extra_answers=answers, template_dir=template_snapshot, vcs_ref="HEAD"
        )
        if result.exception is not None:
            raise AssertionError(f"generation failed for {answers}: {result.exception!r}")
        assert result.exit_code == 0
        project = GeneratedProject(result.project_dir, dict(result.answers))
        if not fresh:
            cache[key] = project
        return project

    return _render


@pytest.fixture(scope="session")
def maximal_project(render: Callable[..., GeneratedProject]) -> GeneratedProject:
    """The render with every component switched on: last stage, largest team."""
    return render(maturity_stage=STAGES[-1], team_size=TEAM_SIZES[-1])


class ProjectBuilder:
    """Builds a generated project once per stage and session, step by step.

    Tests of the same stage and copy share the build (they are grouped on one xdist
    worker, see helpers.generated_project.stage_params), so each copy is installed once. A step
    that failed fails every test that needs it, with the original error, instead of
    being retried.
    """

    def __init__(self, render: Callable[..., GeneratedProject]) -> None:
        self._render = render
        self._done: dict[tuple[str, str], Any] = {}
        self._failed: dict[tuple[str, str], BaseException] = {}

    def _once(self, step: str, stage: str, action: Callable[[], Any]) -> Any:
        key = (step, stage)
        if key in self._failed:
            raise AssertionError(f"{step} of the {stage} project failed") from self._failed[key]
        if key not in self._done:
            try:
                self._done[key] = action()
            except BaseException as error:
                self._failed[key] = error
                raise
        return self._done[key]

    def built(self, stage: str, copy: str = "checks") -> GeneratedProject:
        """Rendered at the smallest team size, installed with `uv sync`, committed."""

        def build() -> GeneratedProject:
            project = self._render(fresh=True, maturity_stage=stage, team_size=TEAM_SIZES[0])
            return project.set_up()

        return self._once(f"build ({copy})", stage, build)

    def trained(self, stage: str) -> GeneratedProject:
        """The "run" copy built, then `make train` once."""
        project = self.built(stage, copy="run")
        self._once("make train", stage, lambda: project.make("train"))
        return project

    def promoted(self, stage: str) -> GeneratedProject:
        """Trained, then `make promote` and `make export-model` once."""
        project = self.trained(stage)
        self._once("make promote", stage, lambda: project.make("promote"))
        self._once("make export-model", stage, lambda: project.make("export-model"))
        return project


@pytest.fixture(scope="session")
def projects(render: Callable[..., GeneratedProject]) -> ProjectBuilder:
    return ProjectBuilder(render)


@pytest.fixture(scope="session")
def builds(render: Callable[..., GeneratedProject]) -> Builds:
    return Builds(render)


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        uv = uv_executable()
    except RuntimeError:
        uv = "not found"
    return [f"template: {ROOT}", f"uv: {uv}", f"stages: {STAGES}, team sizes: {TEAM_SIZES}"]


# Copier prints to the terminal; keep its output short and uncoloured in logs.
os.environ.setdefault("NO_COLOR", "1")
