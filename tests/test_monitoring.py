"""The monitoring job of the first stage that has it judges traffic the project's own
service answered (see helpers.served_traffic) and pushes its metrics to a real
Pushgateway: the default problem type, on the stage's "run" copy; test_problem_types
checks the other problem types that have monitoring."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from copier_mlops import servers
from copier_mlops.ladder import stages_with

from helpers.generated_project import stage_params
from helpers.python_versions import REQUIRE_ENV
from helpers.served_traffic import check_the_verdict_flips_when_traffic_drifts

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stage", stage_params(stages_with("monitoring")[:1], copy="run"))
def test_the_verdict_flips_when_served_traffic_drifts(
    projects: Any, stage: str, tmp_path: Path
) -> None:
    try:
        servers.debian_tool("prometheus-pushgateway", "prometheus-pushgateway")
    except servers.MissingToolError as missing:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{missing} (.ci/run installs it)")
        pytest.skip(f"{missing} ({REQUIRE_ENV} makes this fail)")
    with servers.pushgateway() as pushgateway:
        check_the_verdict_flips_when_traffic_drifts(projects.promoted(stage), tmp_path, pushgateway)
