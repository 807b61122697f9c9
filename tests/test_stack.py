"""The compose stack of the operate stage, run without Docker: its services' own
commands, from compose.yaml, on the environments its Dockerfiles install.

The MLflow service's command runs from the replayed ops image (ops/Dockerfile) on a real
PostgreSQL, and its health check answers; the project trains and promotes a model
against it; and the API, replayed from the serving Dockerfile with the environment
compose.yaml gives it, loads that champion from the server's registry and predicts.
Only the addresses change: compose's service names become 127.0.0.1 and free ports.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from copier_mlops.docker_replay import DockerReplay, dockerfile_cmd
from copier_mlops.ladder import stages_with
from copier_mlops.processes import free_port, run, serve
from copier_mlops.servers import postgresql
from copier_mlops.service import SERVICE

from helpers.generated_project import GeneratedProject, stage_params

pytestmark = pytest.mark.slow

STAGES = stages_with("stack")


def _compose(project: GeneratedProject) -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((project.path / "compose.yaml").read_text())
    return compose


def _replace_flag(cmd: list[str], flag: str, value: str) -> list[str]:
    """`cmd` with `--flag=<anything>` replaced by `--flag=value`; the flag must be there."""
    assert any(part.startswith(f"{flag}=") for part in cmd), f"no {flag} in {cmd}"
    return [f"{flag}={value}" if part.startswith(f"{flag}=") else part for part in cmd]


def _executable(replay: DockerReplay, env: dict[str, str], name: str) -> str:
    executable = shutil.which(name, path=env["PATH"])
    assert executable, f"{name} is not on the image's PATH"
    assert Path(executable).is_relative_to(replay.root), f"{name} must be the image's"
    return executable


@pytest.mark.parametrize("stage", stage_params(STAGES, copy="run"))
def test_the_stack_serves_a_champion_from_its_mlflow_server_on_postgresql(
    projects: Any, stage: str, tmp_path: Path
) -> None:
    project: GeneratedProject = projects.built(stage, copy="run")
    services = _compose(project)["services"]
    assert services["mlflow"]["build"]["dockerfile"] == "ops/Dockerfile"

    ops = DockerReplay(context=project.path, root=tmp_path / "ops", dockerfile="ops/Dockerfile")
    ops.replay()
    ops_env = {**ops.runtime_env(), **services["mlflow"].get("environment", {})}

    with postgresql() as database:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # The stack's store, with the password compose reads from .env, becomes this
        # test's database; the same driver stays.
        command = services["mlflow"]["command"]
        store = next(part for part in command if part.startswith("--backend-store-uri="))
        assert store.startswith("--backend-store-uri=postgresql+psycopg://"), store
        cmd = _replace_flag(
            command,
            "--backend-store-uri",
            database.replace("postgresql://", "postgresql+psycopg://", 1),
        )
        cmd = _replace_flag(cmd, "--host", "127.0.0.1")
        cmd = _replace_flag(cmd, "--port", str(port))
        cmd = _replace_flag(cmd, "--artifacts-destination", str(tmp_path / "artifacts"))
        cmd = _replace_flag(cmd, "--allowed-hosts", f"127.0.0.1:{port}")
        cmd = _replace_flag(cmd, "--workers", "1")
        executable = _executable(ops, ops_env, cmd[0])
        with serve([executable, *cmd[1:]], ops.runtime_workdir(), ops_env, f"{url}/health"):
            health = [
                part.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
                for part in services["mlflow"]["healthcheck"]["test"][1:]
            ]
            run([_executable(ops, ops_env, health[0]), *health[1:]], tmp_path, env=ops_env)

            # The model card goes to this test's folder: the copy is shared.
            tracked = {
                "MLFLOW_TRACKING_URI": url,
                f"{project.prefix}MODEL_CARD_PATH": str(tmp_path / "MODEL_CARD.md"),
            }
            project.make("train", env=tracked)
            project.make("promote", env=tracked)
            # The image is built around an exported model (make up checks there is one),
            # in a build context of its own: the project's copy is shared.
            context = tmp_path / "context"
            shutil.copytree(
                project.path, context, ignore=shutil.ignore_patterns(".venv", ".git", "build")
            )
            export = {**tracked, f"{project.prefix}EXPORT_DIR": str(context / "build" / "model")}
            project.make("export-model", env=export)

            api = DockerReplay(context=context, root=tmp_path / "api")
            api.replay()
            environment = {
                name: value.replace("http://mlflow:5000", url)
                for name, value in services["api"]["environment"].items()
            }
            assert environment["MLFLOW_TRACKING_URI"] == url
            api_env = {**api.runtime_env(), **environment}
            api_port = free_port()
            api_url = f"http://127.0.0.1:{api_port}"
            serving = dockerfile_cmd((project.path / "Dockerfile").read_text(encoding="utf-8"))
            serving[serving.index("--host") + 1] = "127.0.0.1"
            serving[serving.index("--port") + 1] = str(api_port)
            with serve(
                [_executable(api, api_env, serving[0]), *serving[1:]],
                api.runtime_workdir(),
                api_env,
                api_url + SERVICE.paths["health"],
            ):
                ready = httpx.get(api_url + SERVICE.paths["ready"], timeout=30)
                assert ready.status_code == 200, ready.text
                example = json.loads(project.uv("run", project.slug, "example-request").stdout)
                answer = httpx.post(api_url + SERVICE.paths["predict"], json=example, timeout=30)
                assert answer.status_code == 200, answer.text
                assert answer.json()["model_version"] == "1"


@pytest.mark.parametrize("stage", stage_params(STAGES))
def test_every_variable_compose_requires_is_listed_empty_in_env_example(
    projects: Any, stage: str
) -> None:
    project: GeneratedProject = projects.built(stage)
    required = set(re.findall(r"\$\{(\w+):\?", (project.path / "compose.yaml").read_text()))
    assert required
    example = (project.path / ".env.example").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^(\w+)=(.*)$", example.partition("\n## ")[2], re.MULTILINE))
    assert listed == dict.fromkeys(required, "")


@pytest.mark.parametrize("stage", stage_params(STAGES))
def test_published_ports_are_on_the_loopback_and_images_are_pinned(
    projects: Any, stage: str
) -> None:
    project: GeneratedProject = projects.built(stage)
    for name, service in _compose(project)["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
        image = service.get("image", "")
        if "build" not in service:
            assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+[\w.-]*", image), f"{name}: {image}"
        assert "healthcheck" in service or "build" in service, f"{name} has no health check"
