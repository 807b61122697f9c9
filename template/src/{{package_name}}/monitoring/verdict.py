"""The verdict: whether the window drifted from the reference, whether its data was sound
and, once labels arrive, how well the model did, as a small JSON file for people,
schedulers and retraining triggers to read.

Reading a verdict is quick: this module imports neither Evidently nor the model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .window import MODEL_VERSION, TIMESTAMP

VERDICT_FILE = "verdict.json"


@dataclass(frozen=True)
class DataQuality:
    """Per checked column, how many values are missing and how many are out of the data
    contract's range (`quality` says which columns a problem type checks)."""

    missing: dict[str, int]
    out_of_range: dict[str, int]

    @property
    def ok(self) -> bool:
        """Whether every value is present and in range."""
        return not any(self.missing.values()) and not any(self.out_of_range.values())


@dataclass(frozen=True)
class Drift:
    """What the drift report found: the columns compared, those of them that drifted, and
    the share that drifted."""

    compared: list[str]
    drifted: list[str]
    share: float


@dataclass(frozen=True)
class Performance:
    """How the model did on the window's labelled predictions: how many there were, the
    task's test metrics on them by name, and the gate's thresholds they failed, each as
    `"<metric> <value>, not <bound>"`. Without enough labels, no metrics and no failure."""

    labelled_predictions: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    failed_thresholds: list[str] = field(default_factory=list)

    @property
    def degraded(self) -> bool:
        """Whether the model would fail the evaluation gate on these predictions."""
        return bool(self.failed_thresholds)


@dataclass(frozen=True)
class Verdict:
    """What one run of the monitoring job found.

    `drifted` is whether the share of compared columns that drifted reached the
    threshold; `prediction_drifted` whether the model's answers (`columns.PREDICTIONS`)
    are among the drifted columns; `data_quality_ok` whether no feature value was missing
    or out of range; `performance_degraded` whether the labelled predictions fail a
    threshold of the evaluation gate (`performance`).
    """

    drifted: bool
    drift_share: float
    drift_share_threshold: float
    drifted_columns: list[str]
    compared_columns: list[str]
    prediction_drifted: bool
    data_quality_ok: bool
    missing_values: dict[str, int]
    out_of_range_values: dict[str, int]
    predictions: int
    first_prediction_at: str
    last_prediction_at: str
    model_versions: list[str]
    reference_model_version: str
    checked_at: str
    # Verdicts written before performance was judged have neither.
    performance_degraded: bool = False
    performance: Performance = field(default_factory=Performance)


def judge(
    drift: Drift,
    quality: DataQuality,
    window: pd.DataFrame,
    *,
    threshold: float,
    predictions: tuple[str, ...],
    reference_model_version: str,
    performance: Performance,
) -> Verdict:
    """The verdict on `window`, from the drift, the data quality and the performance
    found in it.

    `predictions` names the columns that hold the model's answers.
    """
    return Verdict(
        drifted=drift.share >= threshold,
        drift_share=drift.share,
        drift_share_threshold=threshold,
        drifted_columns=drift.drifted,
        compared_columns=drift.compared,
        prediction_drifted=any(column in drift.drifted for column in predictions),
        data_quality_ok=quality.ok,
        missing_values=quality.missing,
        out_of_range_values=quality.out_of_range,
        predictions=len(window),
        first_prediction_at=str(window[TIMESTAMP].min()),
        last_prediction_at=str(window[TIMESTAMP].max()),
        model_versions=sorted({str(version) for version in window[MODEL_VERSION]}),
        reference_model_version=reference_model_version,
        checked_at=datetime.now(UTC).isoformat(),
        performance_degraded=performance.degraded,
        performance=performance,
    )


def write_verdict(verdict: Verdict, path: Path) -> None:
    """Write the verdict as JSON, replacing the file at once so no reader sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(asdict(verdict), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def read_verdict(path: Path) -> Verdict:
    """The verdict written at `path`."""
    fields = json.loads(path.read_text(encoding="utf-8"))
    performance = Performance(**fields.pop("performance", {}))
    return Verdict(**fields, performance=performance)
