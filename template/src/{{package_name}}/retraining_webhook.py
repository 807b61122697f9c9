"""Retraining on alerts: a small HTTP receiver for Alertmanager's webhook.

Alertmanager posts each group of alerts to ``/alerts`` as JSON (its webhook payload).
When one of them is firing and labelled ``retrain="true"`` (the model's alert rules label
drift and degraded performance so), the receiver starts one run of the pipeline, as
``make pipeline`` does, in a process of its own, and answers at once with 202; while
that run lasts, further alerts start nothing, since the run already retrains on the
latest data. ``/health`` answers health checks and ``/status`` says what ran.

Alertmanager is its only client, so the standard library's HTTP server is enough.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALERTS_PATH = "/alerts"
HEALTH_PATH = "/health"
STATUS_PATH = "/status"
# Where compose.yaml's retrainer listens, and observability/alertmanager/alertmanager.yml
# sends the alerts.
PORT = 9095
# Alertmanager's payloads are a few kilobytes; anything much larger is not one.
MAX_BODY_BYTES = 1_000_000
RETRAIN_LABEL = "retrain"

logger = logging.getLogger(__name__)


class PayloadError(ValueError):
    """A request body that is not an Alertmanager webhook payload."""


def alerts_asking_to_retrain(payload: Any) -> list[str]:
    """The names of the firing alerts labelled ``retrain="true"`` in a webhook payload.

    Raises `PayloadError` when `payload` has no list of alerts, each with its labels.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        msg = "not an Alertmanager webhook payload: no list of alerts"
        raise PayloadError(msg)
    names = []
    for alert in payload["alerts"]:
        if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
            msg = "an alert of the payload has no labels"
            raise PayloadError(msg)
        if alert.get("status") == "firing" and alert["labels"].get(RETRAIN_LABEL) == "true":
            names.append(str(alert["labels"].get("alertname", "unnamed")))
    return names


def pipeline_command() -> list[str]:
    """The project's `pipeline` command, run by this interpreter."""
    package = __name__.partition(".")[0]
    return [sys.executable, "-c", f"from {package}.cli import app; app()", "pipeline"]


@dataclass(frozen=True)
class Status:
    """What the receiver has done: runs started, whether one is going, the last's exit."""

    runs_started: int
    running: bool
    last_exit_code: int | None


class Retrainer:
    """Starts `command` in a process of its own, one run at a time."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self._lock = threading.Lock()
        self._run: subprocess.Popen[bytes] | None = None
        self._runs_started = 0

    def start(self) -> bool:
        """Start a run unless one is going; True when this call started it."""
        with self._lock:
            if self._run is not None and self._run.poll() is None:
                return False
            self._run = subprocess.Popen(self.command)  # noqa: S603 - the project's own command
            self._runs_started += 1
            return True

    def status(self) -> Status:
        with self._lock:
            code = None if self._run is None else self._run.poll()
            return Status(
                runs_started=self._runs_started,
                running=self._run is not None and code is None,
                last_exit_code=code,
            )


def handler_for(retrainer: Retrainer) -> type[BaseHTTPRequestHandler]:
    """A request handler that answers Alertmanager's webhook with `retrainer`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == HEALTH_PATH:
                self._answer(HTTPStatus.OK, {"status": "ok"})
            elif self.path == STATUS_PATH:
                self._answer(HTTPStatus.OK, asdict(retrainer.status()))
            else:
                self._answer(HTTPStatus.NOT_FOUND, {"detail": f"no {self.path} here"})

        def do_POST(self) -> None:
            if self.path != ALERTS_PATH:
                self._answer(HTTPStatus.NOT_FOUND, {"detail": f"alerts go to {ALERTS_PATH}"})
                return
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                self._answer(HTTPStatus.LENGTH_REQUIRED, {"detail": "no Content-Length"})
                return
            if int(length) > MAX_BODY_BYTES:
                detail = f"a body of {length} bytes is larger than {MAX_BODY_BYTES}"
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"detail": detail})
                return
            try:
                names = alerts_asking_to_retrain(json.loads(self.rfile.read(int(length))))
            except (ValueError, UnicodeDecodeError) as error:
                self._answer(HTTPStatus.BAD_REQUEST, {"detail": str(error)})
                return
            if not names:
                self._answer(HTTPStatus.OK, {"retraining": "not asked"})
                return
            started = retrainer.start()
            if started:
                logger.info("Retraining, as %s asked", ", ".join(names))
            retraining = "started" if started else "already running"
            self._answer(HTTPStatus.ACCEPTED, {"retraining": retraining, "alerts": names})

        def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("%s %s", self.address_string(), format % args)

    return Handler


def serve(host: str, port: int, retrainer: Retrainer | None = None) -> None:
    """Answer Alertmanager's webhook at http://host:port until interrupted."""
    handler = handler_for(retrainer or Retrainer(pipeline_command()))
    with ThreadingHTTPServer((host, port), handler) as server:
        logger.info("Waiting for alerts at http://%s:%d%s", host, port, ALERTS_PATH)
        server.serve_forever()
