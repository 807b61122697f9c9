"""The operate project's own pipeline against a real MLflow tracking server on PostgreSQL
(copier_mlops.servers, 127.0.0.1 only), run three times with `make pipeline`: the first
run makes a champion; the second, whose CHALLENGER_MARGIN no model can beat, registers a
challenger that leaves the champion where it was; the third, with no margin, replaces the
champion with an equally good challenger. Each decision is read back from PostgreSQL
(the model versions' tags and the aliases) and from the project's `decisions` command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from copier_mlops import servers
from copier_mlops.ladder import LADDER, TEAM_SIZES, stages_with
from copier_mlops.processes import run

from helpers.generated_project import GeneratedProject
from helpers.tools import need

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pipeline")]

STAGE = stages_with("pipeline")[0]
# A margin no challenger can beat on a primary metric between 0 and 1, and none at all.
UNBEATABLE, NONE = "1", "0"
DEFAULT_MARGIN = next(
    setting["default"]
    for setting in LADDER.components["champion_challenger"]["settings"]
    if setting["name"] == "challenger_margin"
)


@dataclass(frozen=True)
class Runs:
    """What the three runs printed, and what the registry holds after them."""

    printed: list[str]
    decisions: str
    tags: dict[str, dict[str, str]]
    aliases: dict[str, str]


def _psql(database: str, sql: str) -> list[list[str]]:
    psql = servers.postgresql_tool("psql")
    out = run([psql, database, "--no-psqlrc", "-At", "-F", "\t", "-c", sql], Path.cwd()).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.fixture(scope="module")
def runs(render: Callable[..., GeneratedProject]) -> Iterator[Runs]:
    need(lambda: servers.postgresql_tool("pg_ctl"))
    project = render(fresh=True, maturity_stage=STAGE, team_size=TEAM_SIZES[0]).set_up()
    version = servers.locked_version(project.path / "uv.lock", "mlflow")
    with (
        servers.postgresql() as database,
        servers.mlflow_server(database, mlflow_version=version) as server,
    ):
        env = {"MLFLOW_TRACKING_URI": server.url}
        margin = f"{project.prefix}CHALLENGER_MARGIN"
        printed = [
            project.make("pipeline", env=env).stdout,
            project.make("pipeline", env={**env, margin: UNBEATABLE}).stdout,
            project.make("pipeline", env={**env, margin: NONE}).stdout,
        ]
        decisions = project.uv("run", project.slug, "decisions", env=env).stdout
        tags: dict[str, dict[str, str]] = {}
        # The server's database holds this project's model only.
        for number, key, value in _psql(
            database, "SELECT version, key, value FROM model_version_tags"
        ):
            tags.setdefault(number, {})[key] = value
        aliases = dict(_psql(database, "SELECT alias, version FROM registered_model_aliases"))
        yield Runs(printed=printed, decisions=decisions, tags=tags, aliases=aliases)


def test_the_first_run_makes_a_champion(runs: Runs) -> None:
    assert "Version 1: promoted" in runs.printed[0]
    first = runs.tags["1"]
    assert first["decision"] == "promoted"
    assert first["gate"] == "passed"
    assert (first["champion_version"], first["champion_score"]) == ("none", "none")
    assert first["decision_reason"] == "it passes the evaluation gate, and there is no champion yet"


def test_a_challenger_short_of_the_margin_leaves_the_champion(runs: Runs) -> None:
    assert "Version 2: refused" in runs.printed[1]
    second = runs.tags["2"]
    assert second["decision"] == "refused"
    assert second["champion_version"] == "1"
    assert float(second["decision_margin"]) == float(UNBEATABLE)
    # Retrained on the same data and scored on the same rows, both score alike.
    assert float(second["challenger_score"]) == float(second["champion_score"])
    assert second["decision_reason"].startswith("does not beat the champion by the margin")
    assert second["decision_metric"] == runs.tags["1"]["decision_metric"]
    assert runs.tags["1"]["decided_at"] <= second["decided_at"]


def test_a_challenger_by_the_margin_replaces_the_champion(runs: Runs) -> None:
    assert "Version 3: promoted" in runs.printed[2]
    third = runs.tags["3"]
    # The champion it replaced: the first, as the second was refused.
    assert (third["decision"], third["champion_version"]) == ("promoted", "1")
    assert float(third["decision_margin"]) == float(NONE)
    assert runs.aliases == {"champion": "3", "challenger": "3"}


def test_the_decisions_command_shows_them_newest_first(runs: Runs) -> None:
    headings = [line for line in runs.decisions.splitlines() if line.startswith("Version ")]
    assert [line.split(" at ")[0] for line in headings] == [
        "Version 3: promoted",
        "Version 2: refused",
        "Version 1: promoted",
    ]
    for number, heading in zip(("3", "2", "1"), headings, strict=True):
        assert heading.endswith(f" at {runs.tags[number]['decided_at']}")
    assert "against champion version 1:" in runs.decisions
    assert f"against no champion (margin {DEFAULT_MARGIN:g})" in runs.decisions
