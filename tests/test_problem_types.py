"""Every problem type through every stage: the project installs, passes its own checks,
trains, and from the deploy stage on promotes through its gate, serves (checked by the
project's own `make smoke-test`) and scores its sample in batch; where it has
monitoring, its monitoring job judges traffic its service answered.

The default problem type is built by the stage tests (test_generated_project,
test_serving, test_first_run); this module builds the others (conftest's `builds`), one
project per problem type and stage, on one pytest-xdist worker each.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.ladder import STAGES, TEAM_SIZES, components_on
from copier_mlops.processes import free_port, serve
from copier_mlops.service import load_service

from helpers.generated_project import Builds, GeneratedProject
from helpers.malformed import malformed_bodies
from helpers.served_traffic import check_the_verdict_flips_when_traffic_drifts

pytestmark = pytest.mark.slow

QUESTION = load_copier_config()["problem_type"]
OTHER_TYPES = [t for t in choice_values(QUESTION) if t != QUESTION["default"]]
CASES = list(itertools.product(OTHER_TYPES, STAGES))


def _params(cases: list[tuple[str, str]]) -> list[Any]:
    return [
        pytest.param(
            problem_type,
            stage,
            id=f"{problem_type}-{stage}",
            marks=pytest.mark.xdist_group(f"{problem_type}-{stage}"),
        )
        for problem_type, stage in cases
    ]


def _with(component: str) -> list[tuple[str, str]]:
    return [
        (problem_type, stage)
        for problem_type, stage in CASES
        if component in components_on(stage, TEAM_SIZES[0], {"problem_type": problem_type})
    ]


def _first_with(component: str) -> list[tuple[str, str]]:
    """Each problem type with the first stage that has `component`."""
    first: dict[str, str] = {}
    for problem_type, stage in _with(component):
        first.setdefault(problem_type, stage)
    return list(first.items())


@pytest.mark.parametrize(("problem_type", "stage"), _params(CASES))
def test_project_passes_its_own_checks(builds: Builds, problem_type: str, stage: str) -> None:
    project = builds.built(problem_type, stage)
    project.uv("sync", "--locked", "--quiet")
    project.uv("run", "--locked", "ruff", "format", "--check", ".")
    project.uv("run", "--locked", "ruff", "check", ".")
    assert "Success" in project.uv("run", "--locked", "mypy").stdout
    result = project.uv("run", "--locked", "pytest", "-q", "-p", "no:cacheprovider")
    assert " passed" in result.stdout
    status = project.git("status", "--porcelain", "--untracked-files=all")
    assert status == "", f"the project's own checks changed its tree:\n{status}"


@pytest.mark.parametrize(("problem_type", "stage"), _params(CASES))
def test_project_trains(builds: Builds, problem_type: str, stage: str) -> None:
    project = builds.trained(problem_type, stage)
    assert (project.path / "mlflow.db").exists()


@pytest.mark.parametrize(("problem_type", "stage"), _params(_with("registry")))
def test_model_passes_its_gate_and_is_promoted(
    builds: Builds, problem_type: str, stage: str
) -> None:
    project = builds.promoted(problem_type, stage)
    result = project.make("export-model")
    assert "Exported" in result.stdout


@pytest.fixture
def served(builds: Builds, problem_type: str, stage: str) -> Iterator[tuple[GeneratedProject, str]]:
    project = builds.promoted(problem_type, stage)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    health = url + load_service().paths["health"]
    cmd = ["uv", "run", "--locked", project.slug, "serve", "--port", str(port)]
    with serve(cmd, project.path, project.env(), health):
        yield project, url


@pytest.mark.parametrize(("problem_type", "stage"), _params(_with("container")))
def test_service_passes_the_smoke_test(served: tuple[GeneratedProject, str]) -> None:
    """The project's own smoke test: health, readiness, a prediction, refusals, metrics."""
    project, url = served
    result = project.make("smoke-test", f"URL={url}")
    assert "FAILED" not in result.stdout + result.stderr


@pytest.mark.parametrize(("problem_type", "stage"), _params(_with("serving")))
def test_every_malformed_request_gets_a_4xx_with_a_reason(
    served: tuple[GeneratedProject, str],
) -> None:
    project, url = served
    example = json.loads(project.uv("run", "--locked", project.slug, "example-request").stdout)
    predict = url + load_service().paths["predict"]
    refused = {}
    with httpx.Client(headers={"content-type": "application/json"}, timeout=30) as client:
        assert client.post(predict, json=example).status_code == 200
        for name, body in malformed_bodies(example):
            response = client.post(predict, content=body)
            refused[name] = (response.status_code, response.json().get("detail"))
        assert client.get(url + load_service().paths["health"]).status_code == 200
    wrong = {name: answer for name, answer in refused.items() if not 400 <= answer[0] < 500}
    assert wrong == {}, "answered other than 4xx"
    assert [name for name, (_, detail) in refused.items() if not detail] == []


@pytest.mark.parametrize(("problem_type", "stage"), _params(_with("batch_scoring")))
def test_batch_scoring_scores_the_sample(builds: Builds, problem_type: str, stage: str) -> None:
    project = builds.promoted(problem_type, stage)
    project.make("score")
    with (project.path / "build" / "scored.csv").open(newline="") as scored:
        rows = list(csv.DictReader(scored))
    assert rows, "no scored rows"


@pytest.mark.parametrize(("problem_type", "stage"), _params(_first_with("monitoring")))
def test_monitoring_judges_served_traffic(
    builds: Builds, problem_type: str, stage: str, tmp_path: Path
) -> None:
    """At the first stage that has it: the verdict flips when the traffic drifts."""
    check_the_verdict_flips_when_traffic_drifts(builds.promoted(problem_type, stage), tmp_path)
