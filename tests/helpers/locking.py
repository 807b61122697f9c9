"""A generated project's lock file, written as `make setup` writes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from copier_mlops.processes import clean_env, find_python, run, uv_executable


def lock(project: Path) -> None:
    """`uv lock` in `project`, with the Python it was generated for; skips the test when
    this machine has no such Python."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    version = str(answers["python_version"])
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} here to lock the project with")
    run([uv_executable(), "lock", "--quiet", "--python", python], project, env=clean_env())
