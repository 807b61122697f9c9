"""The serving image's program, run the way its Dockerfile runs it, and the promotion gate.

No Docker engine here: the Dockerfile is replayed (see copier_mlops.docker_replay):
its builder stage's COPYs from the build context and its `uv sync` lines install the
runtime environment into a scratch folder; the runtime stage's ENV, CMD and HEALTHCHECK
start and probe the service, on 127.0.0.1 and a free port instead of 0.0.0.0 and the
port service.yml states.
"""

from __future__ import annotations

import http.client
import json
import math
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from copier_mlops.docker_replay import DockerReplay, dockerfile_cmd, dockerfile_healthcheck
from copier_mlops.ladder import stages_with
from copier_mlops.processes import free_port, run, serve
from copier_mlops.service import SERVICE

from helpers.generated_project import GeneratedProject, stage_params
from helpers.malformed import malformed_bodies

pytestmark = pytest.mark.slow

STAGES = stages_with("container")


@dataclass
class Service:
    project: GeneratedProject
    replay: DockerReplay
    url: str
    port: int
    env: dict[str, str]

    def at(self, endpoint: str) -> str:
        """The URL of an endpoint by role (health, ready, predict, metrics), as service.yml
        states its path."""
        return f"{self.url}{SERVICE.paths[endpoint]}"

    def python(self, code: str) -> str:
        """Run code with the image's interpreter and environment."""
        result = run(["python", "-c", code], self.replay.runtime_workdir(), env=self.env)
        return result.stdout.strip()


def _with_host_and_port(cmd: list[str], port: int) -> list[str]:
    out = list(cmd)
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        assert flag in out, f"the Dockerfile's CMD sets no {flag}: {cmd}"
        out[out.index(flag) + 1] = value
    return out


def _dockerfile(project: GeneratedProject) -> str:
    return (project.path / "Dockerfile").read_text(encoding="utf-8")


class Services:
    """One running service per stage for the whole session, stopped at its end.

    Kept at session level (not module scope) because pytest-xdist may tear a module's
    fixtures down between two tests of one group; replaying the image again costs more
    than it tests.
    """

    def __init__(self, projects: Any, tmp: pytest.TempPathFactory) -> None:
        self._projects = projects
        self._tmp = tmp
        self._stack = ExitStack()
        self._services: dict[str, Service] = {}

    def get(self, stage: str) -> Service:
        if stage not in self._services:
            project = self._projects.promoted(stage)
            replay = DockerReplay(context=project.path, root=self._tmp.mktemp("image"))
            replay.replay()
            env = replay.runtime_env()
            port = free_port()
            cmd = _with_host_and_port(dockerfile_cmd(_dockerfile(project)), port)
            executable = shutil.which(cmd[0], path=env["PATH"])
            assert executable, f"{cmd[0]} is not on the image's PATH"
            assert Path(executable).is_relative_to(replay.root), "the entry must be the image's"
            url = f"http://127.0.0.1:{port}"
            self._stack.enter_context(
                serve(
                    [executable, *cmd[1:]],
                    replay.runtime_workdir(),
                    env,
                    f"{url}{SERVICE.paths['health']}",
                )
            )
            self._services[stage] = Service(project, replay, url, port, env)
        return self._services[stage]

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def services(projects: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    manager = Services(projects, tmp_path_factory)
    try:
        yield manager
    finally:
        manager.close()


@pytest.fixture(params=stage_params(STAGES, copy="run"))
def service(request: pytest.FixtureRequest, services: Services) -> Service:
    return services.get(request.param)


def test_runtime_environment_has_no_training_or_dev_tools(service: Service) -> None:
    """The image installs what serving needs: no full MLflow stack, no monitoring or test
    tools."""
    installed = json.loads(
        service.python(
            "import json, importlib.metadata as m;"
            "print(json.dumps(sorted(d.metadata['Name'].lower() for d in m.distributions())))"
        )
    )
    assert "mlflow-skinny" in installed
    assert not {"mlflow", "evidently", "pytest", "mypy", "ruff", "pre-commit"} & set(installed)
    location = service.python(f"import {service.project.package} as p; print(p.__file__)")
    assert "site-packages" in location, "the package is installed, not imported from a source tree"


def test_health_and_ready(service: Service) -> None:
    assert httpx.get(service.at("health"), timeout=10).status_code == 200
    ready = httpx.get(service.at("ready"), timeout=10)
    assert ready.status_code == 200, ready.text


def _example_payload(service: Service) -> dict[str, Any]:
    """The request example the API documents for /predict (what /docs offers to try)."""
    spec = httpx.get(f"{service.url}/openapi.json", timeout=10).json()
    body = spec["paths"][SERVICE.paths["predict"]]["post"]["requestBody"]["content"][
        "application/json"
    ]
    schema = body["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    examples = [
        *schema.get("examples", []),
        *[e["value"] for e in body.get("examples", {}).values()],
    ]
    if "example" in body:
        examples.append(body["example"])
    assert examples, "document an example request for /predict"
    return examples[0]


def test_predict_the_documented_example(service: Service) -> None:
    payload = _example_payload(service)
    response = httpx.post(service.at("predict"), json=payload, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["predictions"]) == len(payload["records"])
    assert all(isinstance(p, int) for p in body["predictions"])
    for row in body["probabilities"]:
        assert math.isclose(sum(row), 1.0, abs_tol=1e-6)
    info = json.loads((service.project.path / "build" / "model" / "model_info.json").read_text())
    assert str(body["model_version"]) == str(info["version"])


def test_predictions_on_real_records_are_mostly_right(service: Service) -> None:
    """A batch of the sample data through the service: the champion's answers agree with
    the labels about as well as its test metrics said."""
    script = (
        "import json\n"
        f"from {service.project.package}.data import load_dataset\n"
        f"from {service.project.package}.schema import FEATURE_COLUMNS, TARGET_COLUMN\n"
        "df = load_dataset().sample(n=60, random_state=7)\n"
        "print(json.dumps({'records': df[list(FEATURE_COLUMNS)].to_dict(orient='records'),"
        " 'labels': df[TARGET_COLUMN].tolist()}))\n"
    )
    data = json.loads(service.project.uv("run", "python", "-c", script).stdout.splitlines()[-1])
    response = httpx.post(service.at("predict"), json={"records": data["records"]}, timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    right = sum(p == y for p, y in zip(predictions, data["labels"], strict=True))
    assert right / len(predictions) >= 0.8


def _record(service: Service) -> dict[str, Any]:
    return dict(_example_payload(service)["records"][0])


JSON_HEADERS = {"content-type": "application/json"}


def _too_many_records(service: Service) -> bytes:
    max_batch = int(
        service.python(
            f"from {service.project.package}.config import get_settings;"
            "print(get_settings().max_batch_size)"
        )
    )
    return json.dumps({"records": [_record(service)] * (max_batch + 1)}).encode()


def test_malformed_payloads_get_4xx_never_5xx(service: Service) -> None:
    answers = {}
    bodies = [
        *malformed_bodies(_example_payload(service)),
        ("too many records", _too_many_records(service)),
    ]
    for name, body in bodies:
        response = httpx.post(service.at("predict"), content=body, headers=JSON_HEADERS, timeout=30)
        answers[name] = response.status_code
        if 400 <= response.status_code < 500:
            assert response.json().get("detail"), f"{name}: 4xx without a detail message"
    assert {n: c for n, c in answers.items() if not 400 <= c < 500} == {}
    assert answers["too many records"] == 413
    assert httpx.get(service.at("health"), timeout=10).status_code == 200


def test_metrics(service: Service) -> None:
    httpx.post(service.at("predict"), json=_example_payload(service), timeout=30)
    response = httpx.get(service.at("metrics"), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE" in text
    assert "_bucket{" in text, "a latency histogram"
    assert SERVICE.paths["predict"] in text, "requests counted by endpoint"
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    server_errors = [line for line in samples if '"5' in line and "status" in line]
    assert server_errors == [], "no request may have ended in a 5xx"


def test_predictions_are_logged(service: Service) -> None:
    """Each served prediction is logged where the image's settings point, and reads back
    as one entry per record with the project's own reader."""
    package = service.project.package
    log = Path(
        service.python(
            "from pathlib import Path;"
            f"from {package}.config import get_settings;"
            "print(Path(get_settings().prediction_log_path).resolve())"
        )
    )
    assert log.is_relative_to(service.replay.root), "the log is written inside the image"

    def logged() -> list[dict[str, Any]]:
        if not log.exists():
            return []
        entries = service.python(
            f"import json; from {package}.prediction_log import read_prediction_log as read;"
            f"print(json.dumps(list(read(__import__('pathlib').Path({str(log)!r})))))"
        )
        return list(json.loads(entries))

    before = len(logged())
    records = _example_payload(service)["records"] * 3
    response = httpx.post(service.at("predict"), json={"records": records}, timeout=30)
    response.raise_for_status()
    new = logged()[before:]
    assert [entry["features"] for entry in new] == records
    assert [entry["prediction"] for entry in new] == response.json()["predictions"]
    assert {entry["model_version"] for entry in new} == {response.json()["model_version"]}


def _body_limit(service: Service) -> int:
    """The image's MAX_BODY_BYTES, as the service computes it."""
    package = service.project.package
    return int(
        service.python(
            f"from {package}.config import get_settings;"
            f"from {package}.serving.schemas import request_body_limit;"
            "print(request_body_limit(get_settings()))"
        )
    )


def _send_slowly(port: int, head: bytes, body: Iterator[bytes]) -> http.client.HTTPResponse:
    """Send a request's head, then its body piece by piece while the server has not
    answered yet, and read the answer (which may come before the body is complete)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head)
    for piece in body:
        if select.select([sock], [], [], 0)[0]:
            break  # the server has answered
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    return answer


def _refusal(answer: http.client.HTTPResponse) -> dict[str, Any]:
    assert answer.status == 413, answer.status
    assert answer.getheader("content-type") == "application/json"
    detail: dict[str, Any] = json.loads(answer.read())
    return detail


def test_a_body_over_the_limit_is_refused_by_its_declared_length(service: Service) -> None:
    """Content-Length over the limit: 413 at once, before a byte of the body is sent."""
    limit = _body_limit(service)
    head = (
        f"POST {SERVICE.paths['predict']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n"
    ).encode()

    answer = _send_slowly(service.port, head, iter([]))

    assert "MAX_BODY_BYTES" in _refusal(answer)["detail"]


def test_a_streamed_body_over_the_limit_is_refused(service: Service) -> None:
    """A chunked body declares no length: it is refused once it has passed the limit,
    without the rest being read (the body here would be 100 times the limit)."""
    limit = _body_limit(service)
    head = (
        f"POST {SERVICE.paths['predict']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"[" * 65536
    chunks = (b"%x\r\n%b\r\n" % (len(piece), piece) for _ in range(100 * limit // len(piece)))

    answer = _send_slowly(service.port, head, chunks)

    assert "MAX_BODY_BYTES" in _refusal(answer)["detail"]
    assert httpx.get(service.at("health"), timeout=10).status_code == 200


def test_the_api_answers_only_what_its_schema_documents(service: Service, tmp_path: Path) -> None:
    """Schemathesis fuzzes every operation from the service's own OpenAPI document: each
    answer's status, content type and body must be documented, and none may be a 5xx."""
    checks = [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
    ]
    cmd = [
        *_schemathesis(),
        "run",
        f"{service.url}/openapi.json",
        f"--checks={','.join(checks)}",
        "--max-examples=40",
        "--seed=6",
        "--workers=1",
        "--request-timeout=30",
    ]
    # Run elsewhere than in the project: schemathesis keeps a cache in its working folder.
    result = run(cmd, tmp_path, check=False, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def _schemathesis() -> list[str]:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert found, "schemathesis is a dev dependency of this repository: uv sync"
    return [found]


def _series(exposition: str) -> set[str]:
    """The time series of a Prometheus text exposition: each sample's name and labels."""
    return {
        line.rsplit(" ", 1)[0]
        for line in exposition.splitlines()
        if line.strip() and not line.startswith("#")
    }


def test_invented_methods_add_no_series(service: Service) -> None:
    httpx.request("BREW", service.at("health"), timeout=10)
    httpx.get(service.at("metrics"), timeout=10)
    before = _series(httpx.get(service.at("metrics"), timeout=10).text)

    for number in range(20):
        httpx.request(f"INVENTED{number}", service.at("health"), timeout=10)

    after = _series(httpx.get(service.at("metrics"), timeout=10).text)
    assert after == before
    assert any('method="other"' in series for series in after)


def test_metrics_pass_promtool(service: Service) -> None:
    """`promtool check metrics`, Prometheus' own linter for expositions: naming, units,
    help texts. Prometheus' Debian package provides promtool (`.ci/run` installs it)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed: apt-get install prometheus"
    httpx.post(service.at("predict"), json=_example_payload(service), timeout=30)
    exposition = httpx.get(service.at("metrics"), timeout=10).text

    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr
    names = {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE")}
    prefix = f"{service.project.package}_"
    assert names and all(name.startswith(prefix) for name in names), names


def test_healthcheck_command(service: Service) -> None:
    """The image's HEALTHCHECK passes against the running service and fails without one."""
    check = dockerfile_healthcheck(_dockerfile(service.project))
    cwd = service.replay.runtime_workdir()
    ours = [arg.replace(f":{SERVICE.port}", f":{service.port}") for arg in check]
    assert ours != check, "the health check should probe the port the CMD listens on"
    assert run(ours, cwd, env=service.env, check=False).returncode == 0
    dead = [arg.replace(f":{SERVICE.port}", f":{free_port()}") for arg in check]
    assert run(dead, cwd, env=service.env, check=False, timeout=60).returncode != 0


def test_not_ready_without_a_model(service: Service, tmp_path: Path) -> None:
    """With no model where MODEL_URI points, the process is alive but not ready."""
    port = free_port()
    cmd = _with_host_and_port(dockerfile_cmd(_dockerfile(service.project)), port)
    env = {
        **service.env,
        SERVICE.env_name(service.project.prefix, "model"): str(tmp_path / "nothing-here"),
    }
    url = f"http://127.0.0.1:{port}"
    paths = SERVICE.paths
    with serve(cmd, service.replay.runtime_workdir(), env, f"{url}{paths['health']}"):
        assert httpx.get(f"{url}{paths['ready']}", timeout=10).status_code == 503
        response = httpx.post(
            f"{url}{paths['predict']}", json=_example_payload(service), timeout=30
        )
        assert response.status_code == 503


@pytest.mark.parametrize("stage", stage_params(stages_with("registry"), copy="run"))
def test_gate_refuses_a_model_below_threshold(projects: Any, stage: str) -> None:
    """A genuinely weak model (always the most frequent class) is logged as the latest run:
    promote refuses it with the default thresholds, exits non-zero naming each failed
    metric, and leaves the champion alias where it was. The weak run is deleted again, so
    that later tests on this project still find the trained model's run as the latest."""
    project = projects.promoted(stage)
    champion = (
        "from mlflow import MlflowClient\n"
        f"from {project.package}.config import get_settings\n"
        "s = get_settings()\n"
        "print(MlflowClient().get_model_version_by_alias(s.model_name, s.model_alias).version)\n"
    )
    weak_run = (
        "import mlflow, mlflow.sklearn\n"
        "from sklearn.dummy import DummyClassifier\n"
        f"from {project.package}.config import get_settings\n"
        f"from {project.package}.data import features_and_target, load_dataset\n"
        f"from {project.package}.task import evaluate, split_dataset\n"
        "s = get_settings()\n"
        "train, test = split_dataset(load_dataset(), s.test_size, s.random_seed)\n"
        "model = DummyClassifier(strategy='most_frequent').fit(*features_and_target(train))\n"
        "mlflow.set_tracking_uri(s.mlflow_tracking_uri)\n"
        "mlflow.set_experiment(s.mlflow_experiment_name)\n"
        "with mlflow.start_run() as run:\n"
        "    metrics = evaluate(model, *features_and_target(test))\n"
        "    mlflow.log_metrics({f'test_{k}': v for k, v in metrics.items()})\n"
        "    mlflow.sklearn.log_model(model, name='model', serialization_format='skops',\n"
        "                             pip_requirements=[])\n"
        "print(run.info.run_id, metrics['accuracy'], s.gate_min_accuracy)\n"
    )
    before = project.uv("run", "python", "-c", champion).stdout.split()[-1]
    run_id, accuracy, threshold = project.uv("run", "python", "-c", weak_run).stdout.split()[-3:]
    try:
        assert float(accuracy) < float(threshold)

        result = project.make("promote", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "test_accuracy" in output and "FAILED" in output, output
        after = project.uv("run", "python", "-c", champion).stdout.split()[-1]
        assert after == before
    finally:
        delete = f"from mlflow import MlflowClient; MlflowClient().delete_run({run_id!r})"
        project.uv("run", "python", "-c", delete)
