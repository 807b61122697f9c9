"""The `python_version` answer reaches every place that names the Python version, and the
project it generates installs and passes its own checks on that Python."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest

from copier_mlops.config import load_copier_config
from copier_mlops.docker_replay import parse_dockerfile
from copier_mlops.ladder import STAGES, TEAM_SIZES
from copier_mlops.processes import find_python

from helpers.generated_project import GeneratedProject
from helpers.python_versions import REQUIRE_ENV, missing_message, offered

QUESTION = load_copier_config()["python_version"]
VERSIONS = offered()


@pytest.mark.parametrize("version", VERSIONS)
def test_python_version_is_used_everywhere(
    render: Callable[..., GeneratedProject], version: str
) -> None:
    project = render(maturity_stage=STAGES[-1], team_size=TEAM_SIZES[0], python_version=version)
    assert (project.path / ".python-version").read_text(encoding="utf-8").strip() == version
    pyproject = project.pyproject
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert str(pyproject["tool"]["mypy"]["python_version"]) == version
    dockerfiles = list(project.path.rglob("Dockerfile"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        for stage in parse_dockerfile(dockerfile.read_text(encoding="utf-8")):
            if stage.base.startswith("python:"):
                tag = stage.base.split(":", 1)[1]
                assert re.match(rf"{re.escape(version)}(?:-|$)", tag), (dockerfile, stage.base)


@pytest.mark.slow
@pytest.mark.parametrize("version", [v for v in VERSIONS if v != QUESTION["default"]])
def test_project_passes_its_own_checks_on(
    render: Callable[..., GeneratedProject], version: str
) -> None:
    """The default version's project goes through the full lifecycle in
    test_generated_project; the others install and pass their own checks here."""
    python = find_python(version)
    if python is None and os.environ.get(REQUIRE_ENV):
        pytest.fail(missing_message([version]))
    if python is None:
        pytest.skip(f"no Python {version} on this machine ({REQUIRE_ENV} makes this fail)")
    project = render(
        fresh=True, maturity_stage=STAGES[-1], team_size=TEAM_SIZES[0], python_version=version
    )
    env = {"UV_PYTHON": python}
    project.uv("sync", "--quiet", env=env)
    project.uv("run", "--locked", "ruff", "format", "--check", ".", env=env)
    project.uv("run", "--locked", "ruff", "check", ".", env=env)
    project.uv("run", "--locked", "mypy", env=env)
    version_used = project.uv("run", "--locked", "python", "--version", env=env).stdout
    assert version_used.startswith(f"Python {version}."), version_used
    result = project.uv("run", "--locked", "pytest", "-q", "-p", "no:cacheprovider", env=env)
    assert " passed" in result.stdout
