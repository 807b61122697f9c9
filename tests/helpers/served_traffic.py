"""The monitoring job of a generated project, judging traffic its own service answered.

The service runs with the project's own command and logs to a file of the caller's; the
traffic is the project's `make sample-traffic`, first drawn like the training data, then
moved away from it (SHIFT=2), each with its labels (LABELS=1: a table's records' true
targets, a forecast's actuals), and each is judged by its `make monitor`. Traffic like
the training data must not have drifted and the model must pass its gate on it; moved
traffic must have drifted, every feature with it, and the model's performance on it
must have degraded.
Given a Pushgateway, the job pushes each verdict's metrics there too, and the
Pushgateway's own /metrics must show them.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from copier_mlops.processes import free_port, serve
from copier_mlops.service import SERVICE

from helpers.generated_project import GeneratedProject

# Predictions per traffic, and the window judged: each judgement sees one traffic only.
WINDOW = 300


def check_the_verdict_flips_when_traffic_drifts(
    project: GeneratedProject, folder: Path, pushgateway: str | None = None
) -> None:
    """Serve the promoted `project`, send it both traffics, and check both verdicts;
    the log and the monitoring job's files go into `folder`. With `pushgateway` (its
    URL), check what the job pushed there as well."""
    reports = folder / "monitoring"
    env = {
        f"{project.prefix}PREDICTION_LOG_PATH": str(folder / "predictions.jsonl"),
        f"{project.prefix}MONITORING_DIR": str(reports),
        f"{project.prefix}MONITORING_WINDOW": str(WINDOW),
        f"{project.prefix}LABELS_PATH": str(folder / "labels.csv"),
        f"{project.prefix}PUSHGATEWAY_URL": pushgateway or "",
    }
    pushed_as = f'{{instance="",job="{project.package}_monitoring"}}'
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["uv", "run", "--locked", project.slug, "serve", "--port", str(port)]

    verdicts = []
    with serve(command, project.path, project.env(env), url + SERVICE.paths["ready"]):
        for shift in (0, 2):
            sent = project.make(
                "sample-traffic",
                f"URL={url}",
                f"RECORDS={WINDOW}",
                f"SHIFT={shift}",
                "LABELS=1",
                env=env,
            )
            assert f"{WINDOW} predictions came back" in sent.stdout
            project.make("monitor", env=env)
            verdicts.append(json.loads((reports / "verdict.json").read_text(encoding="utf-8")))
            metrics = (reports / "monitoring.prom").read_text(encoding="utf-8")
            assert f"{project.package}_drift_detected {float(shift > 0)}" in metrics
            assert f"{project.package}_data_quality_ok 1.0" in metrics
            degraded = f"{project.package}_performance_degraded {float(shift > 0)}"
            assert degraded in metrics, metrics
            if pushgateway:
                held = httpx.get(f"{pushgateway}/metrics", timeout=5).text
                drifted = f"{project.package}_drift_detected{pushed_as} {int(shift > 0)}"
                assert drifted in held, held

    like, moved = verdicts
    assert like["predictions"] == moved["predictions"] == WINDOW
    assert not like["drifted"], like
    assert like["drifted_columns"] == [], like
    assert moved["drifted"], moved
    # What moved must have drifted: a table's features (the compared columns whose quality
    # is checked), or, where no compared column's quality is (a forecast's figures, drawn
    # from its actuals), every compared column.
    compared = moved["compared_columns"]
    moved_columns = [column for column in compared if column in like["missing_values"]]
    assert compared and set(moved_columns or compared) <= set(moved["drifted_columns"]), moved
    assert like["data_quality_ok"] and moved["data_quality_ok"]
    for verdict in (like, moved):
        assert verdict["performance"]["labelled_predictions"] == WINDOW, verdict
    assert not like["performance_degraded"], like
    assert moved["performance_degraded"], moved
