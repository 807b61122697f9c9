"""A release publishes the champion the team promoted, or says plainly that it trained its own.

No GitHub runner here: the CD workflow's jobs are replayed. Their `run:` steps run in
order in a fresh clone of a generated project, with `vars` and `secrets` as a repository
would set them, and `if:` conditions evaluated on those values. The tracking server is a
real MLflow server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from copier_mlops.ladder import stages_with
from copier_mlops.processes import GIT_ENV, free_port, run, serve
from copier_mlops.service import SERVICE

from helpers.generated_project import GeneratedProject, stage_params

pytestmark = pytest.mark.slow

CD = ".github/workflows/cd.yml"
# Covered by the lifecycle tests (tests/test_generated_project.py); minutes of repetition here.
SKIPPED_COMMANDS = {"make check"}
EXPRESSION = re.compile(r"\$\{\{\s*(vars|secrets)\.(\w+)\s*\}\}")
CONDITION = re.compile(r"^\$\{\{\s*vars\.(\w+)\s*(==|!=)\s*''\s*\}\}$")


@dataclass
class Repository:
    """What a GitHub repository gives a workflow run: its variables, secrets and tag."""

    vars: Mapping[str, str]
    secrets: Mapping[str, str]
    tag: str

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            source = self.vars if match.group(1) == "vars" else self.secrets
            return source.get(match.group(2), "")

        return EXPRESSION.sub(value, text)

    def holds(self, condition: str | None) -> bool:
        """An `if:` of the only form the workflow uses: a variable compared with ''."""
        if condition is None:
            return True
        match = CONDITION.match(condition.strip())
        assert match, f"the replay does not understand this condition yet: {condition}"
        is_empty = self.vars.get(match.group(1), "") == ""
        return is_empty if match.group(2) == "==" else not is_empty


def replay_job(
    checkout: Path, job: str, repository: Repository, env: Mapping[str, str], tmp: Path
) -> tuple[list[str], dict[str, str]]:
    """Run a CD job's `run:` steps as GitHub would; returns the names run and the outputs."""
    workflow = yaml.safe_load((checkout / CD).read_text(encoding="utf-8"))
    steps = workflow["jobs"][job]["steps"]
    summary, outputs = tmp / f"{job}-summary.md", tmp / f"{job}-output"
    ran: list[str] = []
    for step in steps:
        if "run" not in step or not repository.holds(step.get("if")):
            continue
        if step["run"].strip() in SKIPPED_COMMANDS:
            continue
        step_env = {
            key: repository.expand(str(value)) for key, value in step.get("env", {}).items()
        }
        run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            checkout,
            env={
                **env,
                **{key: str(value) for key, value in workflow.get("env", {}).items()},
                **step_env,
                "GITHUB_REF_NAME": repository.tag,
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_OUTPUT": str(outputs),
            },
        )
        ran.append(step["name"])
    return ran, _outputs(outputs)


def _outputs(path: Path) -> dict[str, str]:
    """Step outputs written to GITHUB_OUTPUT, `name=value` or heredoc-style."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines() if path.exists() else [])
    for line in lines:
        if "<<" in line:
            name, end = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), end))
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def _labels(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


@dataclass
class Team:
    """A generated project as its team works on it, and fresh clones as CI runners get."""

    project: GeneratedProject
    tmp: Path

    def clone(self, name: str) -> Path:
        checkout = self.tmp / name
        run(["git", "clone", "-q", str(self.project.path), str(checkout)], self.tmp, env=self.env())
        return checkout

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        # A clone uses the project's installed environment: same lock file, same packages.
        venv = str(self.project.path / ".venv")
        return self.project.env({"UV_PROJECT_ENVIRONMENT": venv, **GIT_ENV, **(extra or {})})

    @property
    def tag(self) -> str:
        return f"v{self.project.pyproject['project']['version']}"

    def model_info(self, checkout: Path) -> dict[str, Any]:
        info: dict[str, Any] = json.loads(
            (checkout / "build" / "model" / "model_info.json").read_text()
        )
        return info


@pytest.fixture(params=stage_params(stages_with("cd"), copy="release"))
def team(request: pytest.FixtureRequest, projects: Any, tmp_path: Path) -> Team:
    return Team(projects.built(request.param, copy="release"), tmp_path)


@pytest.fixture
def tracking_server(team: Team) -> Iterator[str]:
    """An MLflow tracking server with a database and an artifact store, on 127.0.0.1."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = team.tmp / "server"
    store.mkdir()
    command = [
        str(team.project.path / ".venv" / "bin" / "mlflow"),
        "server",
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        *("--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}"),
        *("--artifacts-destination", str(store / "artifacts")),
    ]
    env = team.env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    with serve(command, store, env, f"{url}/health"):
        yield url


def test_release_publishes_the_champion_of_the_tracking_server(
    team: Team, tracking_server: str
) -> None:
    # The team trains and promotes against the shared server, as its README says.
    with_server = team.env({"MLFLOW_TRACKING_URI": tracking_server})
    run(["make", "train"], team.project.path, env=with_server)
    run(["make", "promote"], team.project.path, env=with_server)
    champion_script = (
        "from mlflow import MlflowClient\n"
        f"from {team.project.package}.config import get_settings\n"
        "s = get_settings()\n"
        "v = MlflowClient().get_model_version_by_alias(s.model_name, s.model_alias)\n"
        "print(v.version, v.run_id)\n"
    )
    champion = team.project.uv(
        "run",
        "--locked",
        "python",
        "-c",
        champion_script,
        env={"MLFLOW_TRACKING_URI": tracking_server},
    ).stdout.split()

    runner = team.clone("runner")
    repository = Repository(vars={"MLFLOW_TRACKING_URI": tracking_server}, secrets={}, tag=team.tag)
    ran, _ = replay_job(runner, "model", repository, team.env(), team.tmp)

    assert any("Export the champion" in name for name in ran), ran
    assert not any("train" in name.lower() for name in ran), ran
    assert not (runner / "mlflow.db").exists(), "the release must not train a model of its own"
    info = team.model_info(runner)
    assert [info["version"], info["run_id"]] == champion
    assert info["source"] == f"registry {tracking_server}"
    summary = (team.tmp / "model-summary.md").read_text(encoding="utf-8")
    assert champion[1] in summary

    _, outputs = replay_job(runner, "publish", repository, team.env(), team.tmp)
    labels = _labels(outputs["labels"])
    assert labels["model.version"] == champion[0]
    assert labels["model.run-id"] == champion[1]
    assert labels["model.source"] == info["source"]

    # The service started on the exported folder, as the image runs it, says the same.
    port = free_port()
    command = [
        str(team.project.path / ".venv" / "bin" / "uvicorn"),
        *("--factory", f"{team.project.package}.serving.app:create_app"),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]
    exported = {SERVICE.env_name(team.project.prefix, "model"): str(runner / "build" / "model")}
    ready_url = f"http://127.0.0.1:{port}{SERVICE.paths['ready']}"
    with serve(command, runner, team.env(exported), ready_url):
        ready = httpx.get(ready_url, timeout=10).json()
    assert [ready["model_version"], ready["model_run_id"]] == champion
    assert ready["model_source"] == info["source"]


def test_release_without_a_tracking_server_says_it_trained_its_own_model(team: Team) -> None:
    runner = team.clone("runner-without-server")
    repository = Repository(vars={}, secrets={}, tag=team.tag)

    ran, _ = replay_job(runner, "model", repository, team.env(), team.tmp)

    assert not any("Export the champion" in name for name in ran), ran
    info = team.model_info(runner)
    assert info["source"].startswith(f"trained and gated by the release workflow at {team.tag}")
    summary = (team.tmp / "model-summary.md").read_text(encoding="utf-8")
    assert info["source"] in summary

    _, outputs = replay_job(runner, "publish", repository, team.env(), team.tmp)
    assert _labels(outputs["labels"])["model.source"] == info["source"]


def test_a_tag_that_does_not_match_the_version_stops_the_release(team: Team) -> None:
    runner = team.clone("runner-wrong-tag")
    repository = Repository(vars={}, secrets={}, tag=team.tag + "-wrong")

    with pytest.raises(AssertionError, match="does not match the version"):
        replay_job(runner, "model", repository, team.env(), team.tmp)
