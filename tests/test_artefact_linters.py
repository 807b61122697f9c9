"""Generated Dockerfiles, workflows and issue forms pass their ecosystems' own validators.

Rendered at every stage with the largest team, which generates the most files.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from copier_mlops.ladder import STAGES, TEAM_SIZES, components_on
from copier_mlops.processes import run

from helpers.generated_project import GeneratedProject

BIN = Path(sys.executable).parent
TEAM = TEAM_SIZES[-1]


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in this environment (see pyproject.toml)"
    return str(path)


@pytest.fixture(params=STAGES)
def project(
    request: pytest.FixtureRequest, render: Callable[..., GeneratedProject]
) -> GeneratedProject:
    return render(maturity_stage=request.param, team_size=TEAM)


def _files(project: GeneratedProject, owner: str, pattern: str) -> list[Path]:
    """Files matching `pattern`; skips when the component that owns them is off, fails
    when it is on and they are missing."""
    stage = project.answers["maturity_stage"]
    if owner not in components_on(stage, TEAM):
        pytest.skip(f"{owner} is off at {stage}")
    found = sorted(project.path.glob(pattern))
    assert found, f"{owner} is on at {stage} but no {pattern} was generated"
    return found


def _dockerfiles(project: GeneratedProject) -> list[Path]:
    found = sorted(
        p for p in project.path.rglob("*") if p.name == "Dockerfile" or p.suffix == ".Dockerfile"
    )
    if not found:
        pytest.skip("no Dockerfile at this stage")
    return found


def test_hadolint(project: GeneratedProject) -> None:
    for dockerfile in _dockerfiles(project):
        result = run([_tool("hadolint"), str(dockerfile)], project.path, check=False)
        assert (result.returncode, result.stdout + result.stderr) == (0, ""), dockerfile


def test_actionlint(project: GeneratedProject) -> None:
    workflows = _files(project, "github_ci", ".github/workflows/*.y*ml")
    cmd = [_tool("actionlint"), "-shellcheck", _tool("shellcheck"), "-pyflakes", ""]
    result = run([*cmd, *map(str, workflows)], project.path, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_zizmor(project: GeneratedProject) -> None:
    workflows = _files(project, "github_ci", ".github/workflows/*.y*ml")
    result = run(
        [_tool("zizmor"), "--offline", "--no-progress", *map(str, workflows)],
        project.path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr, result.stdout + result.stderr


def test_workflows_match_githubs_schema(project: GeneratedProject) -> None:
    workflows = _files(project, "github_ci", ".github/workflows/*.y*ml")
    run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, workflows),
        ],
        project.path,
    )


def test_issue_forms_match_githubs_schema(project: GeneratedProject) -> None:
    files = _files(project, "github_issue_templates", ".github/ISSUE_TEMPLATE/*.y*ml")
    forms = [f for f in files if f.stem != "config"]
    configs = [f for f in files if f.stem == "config"]
    assert forms, "issue forms expected"
    run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-issue-forms",
            *map(str, forms),
        ],
        project.path,
    )
    if configs:
        run(
            [
                _tool("check-jsonschema"),
                "--builtin-schema",
                "vendor.github-issue-config",
                *map(str, configs),
            ],
            project.path,
        )


def test_dependabot_matches_githubs_schema(project: GeneratedProject) -> None:
    config = project.path / ".github" / "dependabot.yml"
    if not config.exists():
        pytest.skip("no dependabot configuration")
    run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(config)],
        project.path,
    )


def test_compose_file_matches_the_compose_spec(project: GeneratedProject) -> None:
    files = _files(project, "stack", "compose.yaml")
    run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *map(str, files)],
        project.path,
    )
