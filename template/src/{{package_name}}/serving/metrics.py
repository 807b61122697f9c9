"""Prometheus metrics of the service, kept in a registry of its own per app.

Every metric is named after the project's package, as in `<package>_predictions_total`,
so that the service's metrics do not collide with other services' in a shared
Prometheus. The labels only take values from small fixed sets, so that no client can
create new time series at will: unknown paths and unknown methods are counted as
`other`.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The package's name, e.g. `my_project` for `my_project.serving.metrics`.
NAMESPACE = __name__.partition(".")[0]
OTHER = "other"
# The methods HTTP defines (RFC 9110, and PATCH from RFC 5789). Servers pass any other
# method string on; it must not become a label value of its own.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)


class ServiceMetrics:
    """Request counts, latencies, and predictions by their outcome."""

    def __init__(self, outcome_label: str) -> None:
        """`outcome_label` names the label that tells outcomes apart (`task.OUTCOME_LABEL`)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests",
            "HTTP requests by method, path and status code.",
            ["method", "path", "status"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and path.",
            ["method", "path"],
            namespace=NAMESPACE,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.predictions = Counter(
            "predictions",
            f"Predictions made, by {outcome_label.replace('_', ' ')}.",
            [outcome_label],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model being served (always 1), labelled with its version.",
            ["version"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        # `labels()` checks its arguments and takes a lock on every call; the few label
        # values seen on every request keep their time series here instead.
        self._series: dict[tuple[object, ...], Any] = {}

    def count_request(self, method: str, path: str, status: int, seconds: float) -> None:
        self._labelled(self.requests, method, path, str(status)).inc()
        self._labelled(self.latency, method, path).observe(seconds)

    def count_predictions(self, outcomes: Iterable[Hashable]) -> None:
        for outcome, count in collections.Counter(outcomes).items():
            self._labelled(self.predictions, str(outcome)).inc(count)

    def _labelled(self, metric: MetricT, *values: str) -> MetricT:
        key = (metric, *values)
        series: MetricT | None = self._series.get(key)
        if series is None:
            series = self._series[key] = metric.labels(*values)
        return series


class MetricsMiddleware:
    """Plain ASGI middleware that counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, paths: Iterable[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            path = scope["path"] if scope["path"] in self.paths else OTHER
            method = scope["method"] if scope["method"] in HTTP_METHODS else OTHER
            self.metrics.count_request(method, path, status, time.perf_counter() - start)
