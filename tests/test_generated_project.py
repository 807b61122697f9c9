"""Each stage's generated project installs and passes its own checks, unchanged.

The project is rendered once per stage (smallest team: the team size adds no code),
installed with `uv sync`, committed to git as a user would, and then checked with its
own tools. A final check runs the formatter and expects git to stay clean.
"""

from __future__ import annotations

import json

import pytest

from copier_mlops.ladder import LADDER, TEAM_SIZES

from helpers.generated_project import GeneratedProject, stage_params

pytestmark = pytest.mark.slow


@pytest.fixture(params=stage_params())
def project(request: pytest.FixtureRequest, projects) -> GeneratedProject:
    return projects.built(request.param)


def _git_clean(project: GeneratedProject) -> None:
    status = project.git("status", "--porcelain", "--untracked-files=all")
    assert status == "", f"the project's working tree changed:\n{status}"


def test_lock_file_is_current(project: GeneratedProject) -> None:
    """CI and the Dockerfile install with --locked; the lock `uv sync` wrote must hold."""
    project.uv("sync", "--locked", "--quiet")
    assert project.git("ls-files", ".venv") == "", ".venv must be git-ignored"


def test_format_check(project: GeneratedProject) -> None:
    project.uv("run", "--locked", "ruff", "format", "--check", ".")


def test_lint(project: GeneratedProject) -> None:
    project.uv("run", "--locked", "ruff", "check", ".")


def test_typecheck(project: GeneratedProject) -> None:
    result = project.uv("run", "--locked", "mypy")
    assert "Success" in result.stdout


def test_own_tests_pass_and_leave_the_tree_clean(project: GeneratedProject) -> None:
    result = project.uv("run", "--locked", "pytest", "-q", "-p", "no:cacheprovider")
    assert " passed" in result.stdout
    _git_clean(project)


def test_pre_commit_config_is_valid(project: GeneratedProject) -> None:
    if not (project.path / ".pre-commit-config.yaml").exists():
        pytest.skip("no pre-commit configuration at this stage")
    project.uv("run", "--locked", "pre-commit", "validate-config", ".pre-commit-config.yaml")


def test_make_help_lists_the_targets(project: GeneratedProject) -> None:
    result = project.make()
    for target in ("setup", "lint", "test", "train"):
        assert target in result.stdout


def test_formatting_changes_nothing(project: GeneratedProject) -> None:
    project.uv("run", "--locked", "ruff", "format", ".")
    project.uv("run", "--locked", "ruff", "check", "--fix", ".")
    _git_clean(project)


@pytest.mark.parametrize("stage", stage_params(copy="run"))
def test_make_train_tracks_a_run(projects, stage: str) -> None:
    """`make train` trains, evaluates and logs a run with metrics and a model to the
    project-local MLflow store, whose files git ignores."""
    project = projects.trained(stage)
    script = f"""
import json
import mlflow
from mlflow import MlflowClient
from {project.package}.config import get_settings

settings = get_settings()
client = MlflowClient()
experiment = client.get_experiment_by_name("{project.slug}")
runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
run = runs[0]
print(json.dumps({{
    "status": run.info.status,
    "metrics": run.data.metrics,
    "params": run.data.params,
    "models": [m.name for m in client.search_logged_models([experiment.experiment_id])],
}}))
"""
    out = project.uv("run", "--locked", "python", "-c", script).stdout
    run = json.loads(out.strip().splitlines()[-1])
    assert run["status"] == "FINISHED"
    assert run["metrics"]["test_accuracy"] >= 0.8, run["metrics"]
    assert {"test_f1_macro", "test_log_loss"} <= set(run["metrics"])
    assert run["params"], "the run logs its parameters"
    assert run["models"], "the run logs a model"
    # The MLflow store is ignored. (Other tests of this copy may have promoted a model,
    # whose card is meant to be committed: only the store is checked here.)
    status = project.git("status", "--porcelain", "--ignored=matching", "--untracked-files=all")
    store = [line for line in status.splitlines() if "mlflow.db" in line or "mlruns/" in line]
    assert store, status
    assert all(line.startswith("!! ") for line in store), status


def test_team_size_adds_no_code() -> None:
    """The lifecycle runs at the smallest team size; that is enough only while team size
    changes how people work together, not the code (no component of a larger team owns
    a Python file or pyproject.toml)."""
    for name, component in LADDER.components.items():
        if component["team"] != TEAM_SIZES[0]:
            for path in component.get("paths", []):
                assert not path.endswith((".py", "pyproject.toml")), (name, path)
                assert not path.startswith(("src/", "tests/")), (name, path)
