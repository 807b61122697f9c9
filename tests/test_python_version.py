"""The `python_version` answer reaches every place that names the Python version."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from generated_project import (
    STAGES,
    TEAM_SIZES,
    GeneratedProject,
    load_copier_config,
    parse_dockerfile,
)

VERSIONS = load_copier_config()["python_version"]["choices"]


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
