"""The verdict as Prometheus metrics: in the text format of a node exporter's textfile
collector, and pushed to a Prometheus Pushgateway when PUSHGATEWAY_URL is set (the job
runs and ends; Prometheus scrapes what it pushed from the Pushgateway).

Every metric is named after the project's package, as the service's are
(`<package>_drift_share`); the `column` label takes only the compared columns' names,
the `metric` label only the task's metric names.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from .verdict import Verdict

METRICS_FILE = "monitoring.prom"
# The package's name, e.g. `my_project` for `my_project.monitoring.metrics`.
NAMESPACE = __name__.partition(".")[0]
# The Pushgateway's `job` label for what this job pushes: each push replaces the last.
PUSH_JOB = f"{NAMESPACE}_monitoring"
# How long a push may take before the job gives up on the Pushgateway.
PUSH_TIMEOUT_SECONDS = 10


def verdict_metrics(verdict: Verdict) -> CollectorRegistry:
    """A registry holding the verdict's figures as gauges."""
    registry = CollectorRegistry()

    def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, documentation, labels, namespace=NAMESPACE, registry=registry)

    gauge("drift_share", "Share of the compared columns that drifted.").set(verdict.drift_share)
    gauge(
        "drift_share_threshold", "Share of drifted columns at which the data counts as drifted."
    ).set(verdict.drift_share_threshold)
    gauge("drift_detected", "1 when the drift share reached its threshold, else 0.").set(
        verdict.drifted
    )
    drifted = gauge("column_drift_detected", "1 for a column that drifted, else 0.", ("column",))
    for column in verdict.compared_columns:
        drifted.labels(column).set(column in verdict.drifted_columns)
    missing = gauge("missing_values", "Values missing, by feature.", ("column",))
    for column, count in verdict.missing_values.items():
        missing.labels(column).set(count)
    out_of_range = gauge("out_of_range_values", "Values out of range, by feature.", ("column",))
    for column, count in verdict.out_of_range_values.items():
        out_of_range.labels(column).set(count)
    gauge("data_quality_ok", "1 when no feature value was missing or out of range, else 0.").set(
        verdict.data_quality_ok
    )
    gauge("monitored_predictions", "Logged predictions the verdict judged.").set(
        verdict.predictions
    )
    performance = verdict.performance
    gauge("labelled_predictions", "Judged predictions whose labels have arrived.").set(
        performance.labelled_predictions
    )
    scores = gauge(
        "performance", "The task's test metrics on the labelled predictions.", ("metric",)
    )
    for name, value in performance.metrics.items():
        scores.labels(name).set(value)
    gauge(
        "performance_degraded",
        "1 when the labelled predictions fail a threshold of the evaluation gate, else 0.",
    ).set(verdict.performance_degraded)
    gauge(
        "monitoring_checked_timestamp_seconds", "When the verdict was reached, in Unix time."
    ).set(datetime.fromisoformat(verdict.checked_at).timestamp())
    return registry


def write_metrics(verdict: Verdict, path: Path) -> None:
    """Write the verdict's metrics to `path` (replaced at once, as collectors expect)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), verdict_metrics(verdict))


def push_metrics(verdict: Verdict, url: str) -> None:
    """Push the verdict's metrics to the Pushgateway at `url`, replacing what this job
    pushed before. Raises `OSError` when the Pushgateway cannot be reached or refuses."""
    push_to_gateway(
        url, job=PUSH_JOB, registry=verdict_metrics(verdict), timeout=PUSH_TIMEOUT_SECONDS
    )
