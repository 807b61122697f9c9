"""The alert rules, Alertmanager config and dashboard of the operate stage: checked by
their own tools (promtool, amtool), and against the metrics a live service exposes to a
real Prometheus that loads the generated rules."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from copier_mlops.ladder import stages_with
from copier_mlops.processes import free_port, run, serve
from copier_mlops.servers import prometheus
from copier_mlops.service import SERVICE

from helpers.generated_project import GeneratedProject, stage_params

pytestmark = pytest.mark.slow

STAGES = stages_with("observability")
RULES_DIR = Path("observability/prometheus/rules")
RULE_TESTS_DIR = Path("observability/prometheus/tests")
# The rules on the service's own metrics, the ones a live service alone can feed.
SERVICE_RULES = RULES_DIR / "service.yml"
ALERTMANAGER = Path("observability/alertmanager/alertmanager.yml")
DASHBOARDS_DIR = Path("observability/grafana/dashboards")
# The dashboard of the service's own metrics, the one a live service alone can feed.
SERVICE_DASHBOARD = DASHBOARDS_DIR / "service.json"


@pytest.fixture(params=stage_params(STAGES))
def project(request: pytest.FixtureRequest, projects: Any) -> GeneratedProject:
    built: GeneratedProject = projects.built(request.param)
    return built


def _yaml_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.yml"))
    assert files, f"{folder} holds no YAML file"
    return files


def _alerts(project: GeneratedProject, *files: Path) -> dict[str, dict[str, Any]]:
    """The alert rules of `files`, by default of every rules file, by name."""
    alerts = {}
    for path in files or _yaml_files(project.path / RULES_DIR):
        rules = yaml.safe_load((project.path / path).read_text(encoding="utf-8"))
        for group in rules["groups"]:
            for rule in group["rules"]:
                assert rule["alert"] not in alerts, f"two rules raise {rule['alert']}"
                alerts[rule["alert"]] = rule
    return alerts


def _dashboard_queries(project: GeneratedProject, *files: Path) -> list[str]:
    """The PromQL of every panel of `files`, by default of every dashboard."""
    queries = []
    for path in files or sorted((project.path / DASHBOARDS_DIR).glob("*.json")):
        dashboard = json.loads((project.path / path).read_text(encoding="utf-8"))
        queries += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return queries


def test_make_rules_test_checks_rules_their_tests_and_routing(project: GeneratedProject) -> None:
    result = project.make("rules-test")
    output = result.stdout + result.stderr
    for rules in _yaml_files(project.path / RULES_DIR):
        found = len(_alerts(project, rules))
        assert (
            f"Checking {rules.relative_to(project.path)}\n  SUCCESS: {found} rules found" in output
        )
    for tests in _yaml_files(project.path / RULE_TESTS_DIR):
        assert f"Unit Testing:  {tests.relative_to(project.path)}\n  SUCCESS" in output
    assert f"Checking '{ALERTMANAGER}'  SUCCESS" in output


def test_every_alert_is_tested_firing_and_silent(project: GeneratedProject) -> None:
    cases = [
        case
        for path in _yaml_files(project.path / RULE_TESTS_DIR)
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in test["alert_rule_test"]
    ]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert firing == set(_alerts(project)), "an alert is never shown firing"
    assert silent == set(_alerts(project)), "an alert is never shown silent"


def test_every_alert_has_a_severity_the_routes_know_and_a_runbook(
    project: GeneratedProject,
) -> None:
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    config = str(project.path / ALERTMANAGER)
    receivers = {"page": "on-call", "ticket": "team"}
    for name, rule in _alerts(project).items():
        severity = rule["labels"]["severity"]
        routed = run(
            [
                "amtool",
                "config",
                "routes",
                "test",
                f"--config.file={config}",
                f"severity={severity}",
            ],
            project.path,
        ).stdout.strip()
        assert routed == receivers[severity], f"{name} goes to {routed}"
        assert re.search(rf"^\| `{name}` \| {severity} \|", readme, re.MULTILINE), (
            f"the README has no runbook row for {name}"
        )


def test_every_dashboard_query_is_valid_promql(project: GeneratedProject, tmp_path: Path) -> None:
    queries = _dashboard_queries(project)
    assert queries
    records = [
        {"record": f"dashboard:query_{index}", "expr": query} for index, query in enumerate(queries)
    ]
    rules = tmp_path / "dashboard.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    result = run(["promtool", "check", "rules", str(rules)], tmp_path)
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


@pytest.mark.parametrize("stage", stage_params(STAGES, copy="run"))
def test_a_live_service_feeds_every_rule_and_query_and_raises_no_alert(
    projects: Any, stage: str
) -> None:
    """Prometheus scrapes the running service with its generated rules loaded: every rule
    evaluates, every metric the rules and dashboard name is one the service exposes, every
    query answers, and a healthy service that has predicted raises no alert."""
    project: GeneratedProject = projects.promoted(stage)
    package = project.package
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = ["uv", "run", "--locked", project.slug, "serve", "--port", str(port)]
    example = json.loads(project.uv("run", "--locked", project.slug, "example-request").stdout)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [SERVICE_RULES.name],
        "scrape_configs": [{"job_name": package, "static_configs": [{"targets": [url[7:]]}]}],
    }
    rules = {SERVICE_RULES.name: (project.path / SERVICE_RULES).read_text(encoding="utf-8")}
    with (
        serve(cmd, project.path, project.env(), url + SERVICE.paths["health"]),
        prometheus(yaml.safe_dump(config), rules) as prom,
    ):
        predict = url + SERVICE.paths["predict"]

        def query(expr: str) -> list[Any]:
            answer = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
            assert answer["status"] == "success", f"{expr}: {answer}"
            result: list[Any] = answer["data"]["result"]
            return result

        def wait_for(expr: str) -> None:
            deadline = time.monotonic() + 60
            while not query(expr):
                assert time.monotonic() < deadline, f"Prometheus never saw {expr}"
                time.sleep(0.5)

        # A counter's first sample is its baseline: traffic shows as an increase only
        # once Prometheus has scraped the counter before it, as with steady traffic.
        assert httpx.post(predict, json=example, timeout=30).status_code == 200
        wait_for(f"{package}_predictions_total")
        for _ in range(5):
            assert httpx.post(predict, json=example, timeout=30).status_code == 200
        assert httpx.post(predict, json={}, timeout=30).status_code == 422
        wait_for(f"sum(increase({package}_predictions_total[5m])) > 0")
        time.sleep(2)  # a rule evaluation after that scrape

        exposed = {
            series["metric"]["__name__"] for series in query(f'{{__name__=~"{package}_.*"}}')
        }
        alerts = _alerts(project, SERVICE_RULES)
        named = " ".join(
            [
                *(rule["expr"] for rule in alerts.values()),
                *_dashboard_queries(project, SERVICE_DASHBOARD),
            ]
        )
        for metric in set(re.findall(rf"\b{package}_\w+", named)):
            assert metric in exposed, f"{metric} is queried but the service does not expose it"

        groups = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()["data"]["groups"]
        loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
        assert set(loaded) == set(alerts)
        assert {name: rule["health"] for name, rule in loaded.items()} == dict.fromkeys(
            alerts, "ok"
        )
        assert {name: rule["state"] for name, rule in loaded.items()} == dict.fromkeys(
            alerts, "inactive"
        ), "a healthy service that has predicted raises an alert"
        assert query(f'up{{job="{package}"}} == 1'), "Prometheus does not see the service up"
        for expr in _dashboard_queries(project, SERVICE_DASHBOARD):
            query(expr)
        answered = [
            expr for expr in _dashboard_queries(project, SERVICE_DASHBOARD) if "5.." not in expr
        ]
        assert all(query(expr) for expr in answered), "a dashboard query returns no series"
