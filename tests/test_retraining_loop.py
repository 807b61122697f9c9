"""The operate stage's loop, end to end, on real servers on 127.0.0.1.

A champion is trained and promoted on an MLflow server backed by PostgreSQL; the service
serves it from that registry and logs what it predicts; Prometheus scrapes the service
and a Pushgateway with the generated rules loaded, and sends alerts to Alertmanager with
the generated config, whose webhook is the project's retraining receiver. Normal traffic
raises nothing. Shifted traffic: the monitoring job finds drift and pushes its figures,
ModelDrifted fires in Prometheus and reaches Alertmanager, the webhook starts the
pipeline, and the pipeline registers a challenger with its decision. Every hop is
asserted. Only addresses change from the generated files: compose's service names
become 127.0.0.1 and free ports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from copier_mlops.ladder import LADDER, stages_with
from copier_mlops.processes import free_port, serve
from copier_mlops.servers import (
    alertmanager,
    locked_version,
    mlflow_server,
    postgresql,
    prometheus,
    pushgateway,
)
from copier_mlops.service import SERVICE

from helpers.generated_project import GeneratedProject, stage_params

pytestmark = pytest.mark.slow

STAGES = stages_with("retraining_webhook")
RULES = Path("observability/prometheus/rules")
PROMETHEUS = Path("observability/prometheus/prometheus.yml")
ALERTMANAGER = Path("observability/alertmanager/alertmanager.yml")
RECORDS = 300


def _wait_for(what: str, check: Callable[[], Any], seconds: float = 120) -> Any:
    """`check()`'s first truthy answer, polled until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.5)
    return found


def _prometheus_config(project: GeneratedProject, targets: dict[str, str]) -> str:
    """The generated prometheus.yml, scraping and alerting `targets` (job or
    "alertmanager" -> host:port) every second, with its rule files where the test
    server keeps them."""
    config = yaml.safe_load((project.path / PROMETHEUS).read_text(encoding="utf-8"))
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [path.name for path in sorted((project.path / RULES).glob("*.yml"))]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [targets["alertmanager"]]}
    ]
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return yaml.safe_dump(config)


def _alertmanager_config(project: GeneratedProject, webhook: str) -> str:
    """The generated alertmanager.yml, its retraining receiver pointed at `webhook`."""
    config = yaml.safe_load((project.path / ALERTMANAGER).read_text(encoding="utf-8"))
    (retrain,) = [receiver for receiver in config["receivers"] if receiver["name"] == "retrain"]
    (hook,) = retrain["webhook_configs"]
    assert hook["url"].endswith(f":{LADDER.components['retraining_webhook']['port']}/alerts"), hook
    hook["url"] = f"{webhook}/alerts"
    return yaml.safe_dump(config)


@pytest.mark.parametrize("stage", stage_params(STAGES, copy="run"))
def test_drift_alerts_and_the_webhook_retrains_a_challenger(
    projects: Any, stage: str, tmp_path: Path
) -> None:
    project: GeneratedProject = projects.built(stage, copy="run")
    package, prefix = project.package, project.prefix
    cli = ["uv", "run", "--locked", project.slug]
    monitoring = tmp_path / "monitoring"
    mlflow_version = locked_version(project.path / "uv.lock", "mlflow")
    with (
        postgresql() as database,
        mlflow_server(database, mlflow_version=mlflow_version) as mlflow,
        pushgateway() as gateway,
    ):
        # Everything this test's project does goes to this test's servers and folder:
        # the copy is shared.
        env = {
            "MLFLOW_TRACKING_URI": mlflow.url,
            f"{prefix}MODEL_CARD_PATH": str(tmp_path / "MODEL_CARD.md"),
            f"{prefix}PREDICTION_LOG_PATH": str(tmp_path / "predictions.jsonl"),
            f"{prefix}LABELS_PATH": str(tmp_path / "labels.csv"),
            f"{prefix}MONITORING_DIR": str(monitoring),
            f"{prefix}MONITORING_WINDOW": str(RECORDS),
            f"{prefix}PUSHGATEWAY_URL": gateway,
            f"{prefix}MODEL_DIR": "",
        }
        project.make("train", env=env)
        project.make("promote", env=env)

        api_port, hook_port = free_port(), free_port()
        api, webhook = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{hook_port}"
        with (
            serve(
                [*cli, "serve", "--port", str(api_port)],
                project.path,
                project.env(env),
                api + SERVICE.paths["health"],
            ),
            serve(
                [*cli, "retrain-webhook", "--port", str(hook_port)],
                project.path,
                project.env(env),
                f"{webhook}/health",
            ),
            alertmanager(_alertmanager_config(project, webhook)) as manager,
            prometheus(
                _prometheus_config(
                    project,
                    {
                        package: api.removeprefix("http://"),
                        "pushgateway": gateway.removeprefix("http://"),
                        "alertmanager": manager.removeprefix("http://"),
                    },
                ),
                {
                    path.name: path.read_text(encoding="utf-8")
                    for path in sorted((project.path / RULES).glob("*.yml"))
                },
            ) as prom,
        ):

            def query(expr: str) -> list[Any]:
                answer = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10)
                result: list[Any] = answer.json()["data"]["result"]
                return result

            def alert_state(name: str) -> str:
                rules = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()["data"]["groups"]
                found = [r for g in rules for r in g["rules"] if r["name"] == name]
                return str(found[0]["state"]) if found else "missing"

            def monitor() -> dict[str, Any]:
                project.make("monitor", env=env)
                verdict: dict[str, Any] = json.loads((monitoring / "verdict.json").read_text())
                return verdict

            # Normal traffic: no drift, and Prometheus sees the verdict and stays quiet.
            project.make("sample-traffic", f"URL={api}", f"RECORDS={RECORDS}", env=env)
            assert monitor()["drifted"] is False
            _wait_for("the verdict in Prometheus", lambda: query(f"{package}_drift_detected == 0"))
            time.sleep(2)  # a rule evaluation after that scrape
            assert alert_state("ModelDrifted") == "inactive"
            assert httpx.get(f"{webhook}/status", timeout=10).json()["runs_started"] == 0

            # Shifted traffic: drift, pushed; the alert fires and reaches Alertmanager.
            project.make("sample-traffic", f"URL={api}", f"RECORDS={RECORDS}", "SHIFT=3", env=env)
            verdict = monitor()
            assert verdict["drifted"] is True, verdict
            pushed = httpx.get(f"{gateway}/metrics", timeout=10).text
            assert f"{package}_drift_detected{{" in pushed
            _wait_for("ModelDrifted firing", lambda: alert_state("ModelDrifted") == "firing")
            _wait_for(
                "ModelDrifted in Alertmanager",
                lambda: [
                    alert
                    for alert in httpx.get(f"{manager}/api/v2/alerts", timeout=10).json()
                    if alert["labels"]["alertname"] == "ModelDrifted"
                ],
            )

            # The webhook started the pipeline, which ran to its end.
            status = _wait_for(
                "the pipeline's run to end",
                lambda: (
                    (s := httpx.get(f"{webhook}/status", timeout=10).json())["runs_started"]
                    and not s["running"]
                    and s
                ),
                seconds=300,
            )
            assert status == {"runs_started": 1, "running": False, "last_exit_code": 0}

        # A challenger is registered on the server, with the decision it got.
        registered = json.loads(
            project.uv(
                "run",
                "--locked",
                "python",
                "-c",
                "import json, mlflow; c = mlflow.MlflowClient();"
                f" v = c.get_model_version_by_alias('{project.slug}', 'challenger');"
                " print(json.dumps(dict(version=v.version, tags=v.tags)))",
                env=env,
            ).stdout
        )
        assert registered["version"] == "2", registered
        assert registered["tags"]["decision"] in {"promoted", "refused"}, registered["tags"]
