"""The real servers the operate stage is tested against (copier_mlops.servers) work:
PostgreSQL takes a password login, an MLflow server on it tracks and registers models,
Prometheus scrapes, evaluates a rule file and sends the alert through Alertmanager to a
webhook, the Pushgateway holds what a batch job pushed. Each listens on 127.0.0.1 only,
as a user other than root.

A missing binary skips, unless COPIER_MLOPS_REQUIRE_EVERY_PYTHON is set (`.ci/run`
sets it after installing them): then it fails.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from copier_mlops import servers
from copier_mlops.processes import free_port, run

from helpers.generated_project import GeneratedProject
from helpers.tools import need

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("servers")]


def _listeners(port: int) -> set[tuple[str, int]]:
    """The sockets listening on `port`: (local address as the kernel shows it, owner's
    uid), from /proc/net/tcp and tcp6 (IPv4 127.0.0.1 reads 0100007F)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.add((address, int(fields[7])))
    return found


def _assert_loopback_and_not_root(url: str) -> None:
    listeners = _listeners(httpx.URL(url).port or 0)
    assert listeners, f"nothing listens for {url}"
    assert {address for address, _ in listeners} == {"0100007F"}, listeners
    assert all(uid != 0 for _, uid in listeners), f"{url} is served by root: {listeners}"


def _psql(url: str, sql: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    psql = servers.postgresql_tool("psql")
    return run([psql, url, "--no-psqlrc", "-At", "-c", sql], Path.cwd(), check=check)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    need(lambda: servers.postgresql_tool("pg_ctl"))
    with servers.postgresql() as url:
        yield url


def test_postgresql_takes_the_url_login_and_no_other(database: str) -> None:
    assert database.startswith("postgresql://mlflow:")
    assert _psql(database, "SELECT current_user, current_database()").stdout == "mlflow|mlflow\n"
    assert _psql(database, "SHOW listen_addresses").stdout == "127.0.0.1\n"
    _assert_loopback_and_not_root(f"http://127.0.0.1:{httpx.URL(database).port}")
    url = httpx.URL(database)
    wrong = str(url.copy_with(password=f"{url.password}x"))
    refused = _psql(wrong, "SELECT 1", check=False)
    assert refused.returncode != 0
    assert "password authentication failed" in refused.stderr, refused.stderr


# Run with the server's own interpreter, as a generated project's training would: log a
# metric and a model, register it; prints what the test then finds in PostgreSQL.
CLIENT = """
import json
import sys

import mlflow
from sklearn.linear_model import LogisticRegression

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("servers-test")
with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.75)
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        registered_model_name="servers-test-model",
        pip_requirements=["scikit-learn"],
    )
print(json.dumps({"run_id": run.info.run_id, "version": info.registered_model_version}))
"""


def test_mlflow_server_tracks_and_registers_into_postgresql(
    database: str, render: Callable[..., GeneratedProject], tmp_path: Path
) -> None:
    """The server runs the MLflow version a generated deploy project locks."""
    project = render(fresh=True, maturity_stage="deploy")
    project.uv("lock", "--quiet")
    version = servers.locked_version(project.path / "uv.lock", "mlflow")
    with servers.mlflow_server(database, mlflow_version=version) as server:
        _assert_loopback_and_not_root(server.url)
        assert httpx.get(f"{server.url}/version").text == version
        script = tmp_path / "client.py"
        script.write_text(CLIENT, encoding="utf-8")
        client = run([str(server.python), str(script), server.url], tmp_path)
        logged = json.loads(client.stdout.splitlines()[-1])
        assert list(server.artifacts.rglob("MLmodel")), "no model artifact reached the server"
    run_id = logged["run_id"]
    metrics = "SELECT run_uuid, key, value FROM metrics"
    assert _psql(database, metrics).stdout == f"{run_id}|accuracy|0.75\n"
    registered = "SELECT name, version, run_id FROM model_versions"
    assert (
        _psql(database, registered).stdout == f"servers-test-model|{logged['version']}|{run_id}\n"
    )


ALERT = "ServersTestAlwaysFiring"

# Each notification at once: no wait to group alerts.
ALERTMANAGER_CONFIG = """\
route:
  receiver: webhook
  group_wait: 0s
receivers:
  - name: webhook
    webhook_configs:
      - url: {webhook}
"""

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{alertmanager}"]
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""

RULES = f"""\
groups:
  - name: servers-test
    rules:
      - alert: {ALERT}
        expr: vector(1)
        for: 0s
"""


@contextmanager
def _webhook() -> Iterator[tuple[str, queue.Queue[dict[str, Any]]]]:
    """A webhook receiver on 127.0.0.1: its URL, and the JSON bodies posted to it."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/alerts", received
    finally:
        server.shutdown()
        server.server_close()


def _until(what: str, check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.2)
    return found


def _get(url: str, **params: str) -> Any:
    return httpx.get(url, params=params, timeout=5).json()["data"]


def test_prometheus_alert_reaches_a_webhook_through_alertmanager() -> None:
    need(lambda: servers.debian_tool("prometheus", "prometheus"))
    need(lambda: servers.debian_tool("prometheus-alertmanager", "prometheus-alertmanager"))
    amtool = need(lambda: servers.debian_tool("amtool", "prometheus-alertmanager"))
    prometheus_port = free_port()
    with ExitStack() as stack:
        webhook, received = stack.enter_context(_webhook())
        alertmanager = stack.enter_context(
            servers.alertmanager(ALERTMANAGER_CONFIG.format(webhook=webhook))
        )
        config = PROMETHEUS_CONFIG.format(
            alertmanager=alertmanager.removeprefix("http://"), port=prometheus_port
        )
        prometheus = stack.enter_context(
            servers.prometheus(config, {"rules.yml": RULES}, port=prometheus_port)
        )
        for url in (alertmanager, prometheus):
            _assert_loopback_and_not_root(url)
        _until(
            "Prometheus scrapes itself",
            lambda: _get(f"{prometheus}/api/v1/query", query='up{job="prometheus"} == 1')["result"],
        )
        _until(
            f"{ALERT} fires in Prometheus",
            lambda: [
                alert
                for alert in _get(f"{prometheus}/api/v1/alerts")["alerts"]
                if alert["labels"]["alertname"] == ALERT and alert["state"] == "firing"
            ],
        )
        try:
            posted = received.get(timeout=30)
        except queue.Empty:
            raise AssertionError("no notification reached the webhook in 30 s") from None
        query = [amtool, "alert", "query", f"--alertmanager.url={alertmanager}", "-o", "json"]
        held = json.loads(run(query, Path.cwd()).stdout)
    assert [alert["labels"]["alertname"] for alert in posted["alerts"]] == [ALERT], posted
    assert posted["status"] == "firing", posted
    assert ALERT in [alert["labels"]["alertname"] for alert in held], held


def test_pushgateway_holds_what_a_job_pushed() -> None:
    need(lambda: servers.debian_tool("prometheus-pushgateway", "prometheus-pushgateway"))
    pushed = "# TYPE servers_test_value gauge\nservers_test_value 42\n"
    with servers.pushgateway() as pushgateway:
        _assert_loopback_and_not_root(pushgateway)
        answer = httpx.put(f"{pushgateway}/metrics/job/servers_test", content=pushed, timeout=5)
        assert answer.status_code == 200, answer.text
        exposed = httpx.get(f"{pushgateway}/metrics", timeout=5).text
    assert 'servers_test_value{instance="",job="servers_test"} 42' in exposed, exposed
