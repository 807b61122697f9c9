"""A generated project as the tests see it, and the stages the tests build one at."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from copier_mlops.ladder import STAGES
from copier_mlops.processes import GIT_ENV, clean_env, run, uv_executable


def stage_params(stages: list[str] | None = None, copy: str = "checks") -> list[Any]:
    """Stages as test parameters, grouped for pytest-xdist by stage and project copy.

    Each stage's project is built twice, as two copies: "checks" runs the project's own
    checks, "run" trains, promotes and serves. All tests of one copy run on one worker,
    which builds it once; the two copies build and run on two workers side by side.
    """
    return [
        pytest.param(stage, id=stage, marks=pytest.mark.xdist_group(f"{stage}-{copy}"))
        for stage in (STAGES if stages is None else stages)
    ]


@dataclass
class GeneratedProject:
    """A rendered project and the names it was rendered with."""

    path: Path
    answers: dict[str, Any] = field(default_factory=dict)

    @property
    def pyproject(self) -> dict[str, Any]:
        with (self.path / "pyproject.toml").open("rb") as f:
            return tomllib.load(f)

    @property
    def package(self) -> str:
        return str(self.answers["package_name"])

    @property
    def slug(self) -> str:
        """The distribution and CLI name, as the generated pyproject.toml states it."""
        return str(self.pyproject["project"]["name"])

    @property
    def prefix(self) -> str:
        """Prefix of the project's settings in the environment."""
        return f"{self.package.upper()}_"

    def files(self) -> set[str]:
        """Every generated file (and symlink), as a POSIX path relative to the project."""
        skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
        return {
            p.relative_to(self.path).as_posix()
            for p in self.path.rglob("*")
            if (p.is_file() or p.is_symlink())
            and not skip.intersection(p.relative_to(self.path).parts)
        }

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return clean_env(extra)

    def uv(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run([uv_executable(), *args], self.path, env=self.env(env), check=check)

    def make(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run(["make", *args], self.path, env=self.env(env), check=check)

    def git(self, *args: str) -> str:
        return run(["git", *args], self.path, env=self.env(GIT_ENV)).stdout

    def set_up(self) -> GeneratedProject:
        """As a user does: `git init && make setup`, then `git add -A && git commit` (the
        git hooks `make setup` installs are left out). Returns the project."""
        self.uv("sync", "--quiet")
        env = {**self.env(), **GIT_ENV}
        run(["git", "init", "-q", "-b", "main"], self.path, env=env)
        run(["git", "add", "-A"], self.path, env=env)
        run(["git", "commit", "-q", "--no-verify", "-m", "Generate"], self.path, env=env)
        return self


class Builds:
    """One project per problem type and stage, built, trained and promoted at most once:
    the problem types other than the default, which the stage builds (`projects`) cover.
    Tests of one problem type and stage share a pytest-xdist group,
    f"{problem_type}-{stage}"."""

    def __init__(self, render: Callable[..., GeneratedProject]) -> None:
        self._render = render
        self._done: dict[tuple[str, str, str], Any] = {}

    def _once(self, step: str, key: tuple[str, str], action: Callable[[], Any]) -> Any:
        if (step, *key) not in self._done:
            self._done[(step, *key)] = action()
        return self._done[(step, *key)]

    def built(self, problem_type: str, stage: str) -> GeneratedProject:
        def build() -> GeneratedProject:
            project = self._render(
                fresh=True, problem_type=problem_type, maturity_stage=stage, team_size="solo"
            )
            return project.set_up()

        return self._once("build", (problem_type, stage), build)

    def trained(self, problem_type: str, stage: str) -> GeneratedProject:
        project = self.built(problem_type, stage)
        self._once("train", (problem_type, stage), lambda: project.make("train"))
        return project

    def promoted(self, problem_type: str, stage: str) -> GeneratedProject:
        project = self.trained(problem_type, stage)
        self._once("promote", (problem_type, stage), lambda: project.make("promote"))
        return project
