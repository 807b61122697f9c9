"""The monitoring job judges traffic a project's own service answered: traffic like the
training data has not drifted, traffic moved away from it has, for every problem type
that has monitoring.

The project is the one the other tests of its stage and problem type build (the stage's
"run" copy for the default problem type, conftest's `builds` for the others). Its
service runs with its own command and logs to a file of this test; the traffic is the
project's own `make sample-traffic`, the judgement its `make monitor`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.ladder import LADDER, TEAM_SIZES, components_on
from copier_mlops.processes import free_port, serve
from copier_mlops.service import SERVICE

from helpers.generated_project import Builds, GeneratedProject

pytestmark = pytest.mark.slow

STAGE = LADDER.components["monitoring"]["stage"]
QUESTION = load_copier_config()["problem_type"]
MONITORED = [
    problem_type
    for problem_type in choice_values(QUESTION)
    if "monitoring" in components_on(STAGE, TEAM_SIZES[0], {"problem_type": problem_type})
]
WINDOW = 300


def _group(problem_type: str) -> str:
    """The pytest-xdist group of the tests that build this problem type's project."""
    if problem_type == QUESTION["default"]:
        return f"{STAGE}-run"
    return f"{problem_type}-{STAGE}"


def _promoted(problem_type: str, projects: Any, builds: Builds) -> GeneratedProject:
    if problem_type == QUESTION["default"]:
        return projects.promoted(STAGE)
    return builds.promoted(problem_type, STAGE)


@pytest.mark.parametrize(
    "problem_type",
    [pytest.param(t, marks=pytest.mark.xdist_group(_group(t))) for t in MONITORED],
)
def test_the_verdict_flips_when_served_traffic_drifts(
    problem_type: str, projects: Any, builds: Builds, tmp_path: Path
) -> None:
    project = _promoted(problem_type, projects, builds)
    folder = tmp_path / "monitoring"
    env = {
        f"{project.prefix}PREDICTION_LOG_PATH": str(tmp_path / "predictions.jsonl"),
        f"{project.prefix}MONITORING_DIR": str(folder),
        f"{project.prefix}MONITORING_WINDOW": str(WINDOW),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["uv", "run", "--locked", project.slug, "serve", "--port", str(port)]

    verdicts = []
    with serve(command, project.path, project.env(env), url + SERVICE.paths["ready"]):
        for shift in (0, 2):
            sent = project.make(
                "sample-traffic", f"URL={url}", f"RECORDS={WINDOW}", f"SHIFT={shift}", env=env
            )
            assert f"{WINDOW} predictions came back" in sent.stdout
            project.make("monitor", env=env)
            verdicts.append(json.loads((folder / "verdict.json").read_text(encoding="utf-8")))
            metrics = (folder / "monitoring.prom").read_text(encoding="utf-8")
            assert f"{project.package}_drift_detected {float(shift > 0)}" in metrics

    like, moved = verdicts
    assert like["predictions"] == moved["predictions"] == WINDOW
    assert not like["drifted"], like
    assert like["drifted_columns"] == [], like
    assert moved["drifted"], moved
    features = [column for column in moved["compared_columns"] if column in like["missing_values"]]
    assert features and set(features) <= set(moved["drifted_columns"]), moved
    assert like["data_quality_ok"] and moved["data_quality_ok"]
