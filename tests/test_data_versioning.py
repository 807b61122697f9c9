"""Data versioning with DVC, for real: the generated project's Make targets version its
data, push it to the default remote (a folder beside the project), and another clone
pulls the same bytes back and sees a changed file in the status.

DVC runs as the Makefile runs it, a tool uv fetches from the package index; the project's
own environment is not needed, so the project is rendered and committed, not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from copier_mlops.ladder import TEAM_SIZES, stages_with
from copier_mlops.processes import GIT_ENV, clean_env, run

from helpers.generated_project import GeneratedProject

pytestmark = pytest.mark.slow

STAGE = stages_with("data_versioning")[0]


def _git(path: Path, *args: str) -> str:
    return run(["git", *args], path, env=clean_env(GIT_ENV)).stdout


def _make(path: Path, *args: str, check: bool = True) -> str:
    proc = run(["make", *args], path, env=clean_env(), check=check)
    return proc.stdout + proc.stderr


def _write_csv(path: Path, rows: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["id,value"] + [f"{i},{(i * 7919 + seed) % 10007 / 10007:.6f}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def _contents(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def generated(render: Callable[..., GeneratedProject], tmp_path: Path) -> GeneratedProject:
    """A committed operate project, cloned into a folder of its own, so that the default
    remote beside it belongs to this test alone."""
    rendered = render(fresh=True, maturity_stage=STAGE, team_size=TEAM_SIZES[0])
    _git(rendered.path, "init", "-q", "-b", "main")
    _git(rendered.path, "add", "-A")
    _git(rendered.path, "commit", "-q", "--no-verify", "-m", "Generate")
    _git(tmp_path, "clone", "-q", str(rendered.path), "clone")
    return GeneratedProject(tmp_path / "clone", rendered.answers)


def test_data_is_versioned_pushed_and_pulled_into_another_clone(
    generated: GeneratedProject,
) -> None:
    project = generated.path
    # Nothing to version yet: said, and an error, before DVC is even started.
    output = _make(project, "data-version", check=False)
    assert "Nothing to version" in output, output

    # Training data a team kept in git, and a pipeline output git never saw.
    training = project / "data" / "training"
    pipeline = project / "data" / "pipeline"
    _write_csv(training / "records.csv", 5000, seed=1)
    _git(project, "add", "data/training")
    _git(project, "commit", "-q", "--no-verify", "-m", "Training data in git")
    _write_csv(pipeline / "ingested.csv", 2000, seed=2)
    _write_csv(pipeline / "splits" / "test.csv", 500, seed=3)
    versioned = {"training": _contents(training), "pipeline": _contents(pipeline)}

    _make(project, "data-version")
    # DVC staged its files and took the training data out of git's index; the example
    # input of `make score` stays in git.
    tracked = set(_git(project, "ls-files", "data").split())
    assert {"data/training.dvc", "data/pipeline.dvc", "data/.gitignore"} <= tracked, tracked
    assert "data/sample.csv" in tracked
    assert not any(path.startswith(("data/training/", "data/pipeline/")) for path in tracked)
    _git(project, "commit", "-q", "--no-verify", "-m", "Version the data")

    # The default remote is the folder beside the project's, named after the project.
    remote = project.parent / f"{generated.slug}-dvc-remote"
    assert [p for p in remote.rglob("*") if p.is_file()], f"nothing pushed to {remote}"

    # A fresh clone has neither the data nor DVC's cache, and pulls the same bytes.
    _git(project.parent, "clone", "-q", str(project), "another-clone")
    clone = project.parent / "another-clone"
    assert not (clone / "data" / "training").exists()
    assert not (clone / ".dvc" / "cache").exists()
    _make(clone, "data-pull")
    for name, files in versioned.items():
        assert _contents(clone / "data" / name) == files, name

    status = _make(clone, "data-status")
    assert "up to date" in status, status
    with (clone / "data" / "training" / "records.csv").open("a") as f:
        f.write("5000,0.5\n")
    status = _make(clone, "data-status")
    assert "modified" in status and "data/training" in status, status
    assert "data/pipeline" not in status, status

    # DVC, as the Makefile runs it, reports nothing to its maintainers.
    config = _make(clone, "-s", "--eval", "dvc-config: ; @$(DVC) config --list", "dvc-config")
    assert "core.analytics=false" in config, config
