"""Champion/challenger: a retrained model replaces the champion only when it is better.

Each model the pipeline trains is registered as a new version with the alias
``challenger``. It and the champion (the version the serving alias points at) are scored
on the same held-out split in one step, and the challenger takes the serving alias only
when it passes the evaluation gate and beats the champion on the task's primary metric
(`task.PRIMARY_METRIC`, better higher or lower as the metric says) by at least
CHALLENGER_MARGIN. With no champion yet, passing the gate is enough.

Every decision is written on the challenger's version as tags (the decision, both scores,
the margin, the reason and the time), so the registry keeps why each version was or was
not promoted; `recent_decisions` reads them back.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow.artifacts
import pandas as pd

from . import task
from .config import Settings
from .data import features_and_target
from .evaluation import TEST_PREFIX, Metric
from .model_loading import load_estimator
from .registry import GateResult, check_gate, get_run, logged_model_id, register, served_model
from .tracking import RegistryError, download_version, find_version, mlflow_client

# The alias of the newest registered challenger, promoted or not.
CHALLENGER_ALIAS = "challenger"

# The tags a decision writes on the challenger's version.
DECISION_TAG = "decision"
REASON_TAG = "decision_reason"
METRIC_TAG = "decision_metric"
MARGIN_TAG = "decision_margin"
CHALLENGER_SCORE_TAG = "challenger_score"
CHAMPION_SCORE_TAG = "champion_score"
CHAMPION_VERSION_TAG = "champion_version"
DECIDED_AT_TAG = "decided_at"
PROMOTED = "promoted"
REFUSED = "refused"
# The champion's score and version when there was no champion.
NONE = "none"


@dataclass(frozen=True)
class Scores:
    """The challenger's and the champion's metrics on the same held-out split, by metric
    name; the champion's are None while there is no champion."""

    challenger: dict[str, float]
    champion: dict[str, float] | None = None
    champion_version: str | None = None

    def logged(self) -> dict[str, float]:
        """The challenger's metrics under the names training logs them, for the gate."""
        return {f"{TEST_PREFIX}{name}": value for name, value in self.challenger.items()}


@dataclass(frozen=True)
class Decision:
    """Whether the challenger `version` replaced the champion, on what scores, and why."""

    version: str
    promoted: bool
    reason: str
    metric: str
    challenger_score: float
    champion_score: float | None
    champion_version: str | None
    margin: float
    decided_at: str

    def tags(self) -> dict[str, str]:
        """The decision as the version's tags."""
        return {
            DECISION_TAG: PROMOTED if self.promoted else REFUSED,
            REASON_TAG: self.reason,
            METRIC_TAG: self.metric,
            MARGIN_TAG: repr(self.margin),
            CHALLENGER_SCORE_TAG: repr(self.challenger_score),
            CHAMPION_SCORE_TAG: NONE if self.champion_score is None else repr(self.champion_score),
            CHAMPION_VERSION_TAG: self.champion_version or NONE,
            DECIDED_AT_TAG: self.decided_at,
        }

    @classmethod
    def from_tags(cls, version: str, tags: dict[str, str]) -> Decision:
        """The decision recorded in the tags of `version`."""
        champion_score = tags[CHAMPION_SCORE_TAG]
        champion_version = tags[CHAMPION_VERSION_TAG]
        return cls(
            version=version,
            promoted=tags[DECISION_TAG] == PROMOTED,
            reason=tags[REASON_TAG],
            metric=tags[METRIC_TAG],
            challenger_score=float(tags[CHALLENGER_SCORE_TAG]),
            champion_score=None if champion_score == NONE else float(champion_score),
            champion_version=None if champion_version == NONE else champion_version,
            margin=float(tags[MARGIN_TAG]),
            decided_at=tags[DECIDED_AT_TAG],
        )

    def describe(self) -> str:
        """The decision in three lines, for people."""
        verdict = PROMOTED if self.promoted else REFUSED
        if self.champion_score is None:
            against = "no champion"
        else:
            against = f"champion version {self.champion_version}: {self.champion_score:.4f}"
        return (
            f"Version {self.version}: {verdict} at {self.decided_at}\n"
            f"  {self.metric}: {self.challenger_score:.4f}, against {against} "
            f"(margin {self.margin:g})\n"
            f"  {self.reason}"
        )


def held_out(dataset: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.Series[Any]]:
    """The test split training evaluates on: the same rows for every model trained on
    the same data with the same TEST_SIZE and RANDOM_SEED."""
    _, test = task.split_dataset(dataset, settings.test_size, settings.random_seed)
    return features_and_target(test)


def load_logged_model(settings: Settings, run_id: str) -> Any:
    """The model the training run `run_id` logged, loaded safely."""
    client = mlflow_client(settings)
    logged = client.get_logged_model(logged_model_id(get_run(client, run_id)))
    with tempfile.TemporaryDirectory() as folder:
        # From the logged model's own location, in the settings' store: MLflow resolves a
        # ``models:/`` URI against its global tracking URI, which may be another store.
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=logged.artifact_location,
            dst_path=folder,
            tracking_uri=settings.mlflow_tracking_uri,
        )
        return load_estimator(Path(local))


def load_champion(settings: Settings) -> tuple[str, Any] | None:
    """The champion's version and model, or None while no version has the serving alias."""
    try:
        version = find_version(settings, served_model(settings))
    except RegistryError:
        return None
    with tempfile.TemporaryDirectory() as folder:
        model = load_estimator(download_version(settings, version, Path(folder)))
    return str(version.version), model


def score(settings: Settings, dataset: pd.DataFrame, run_id: str) -> Scores:
    """Score the model the training run `run_id` logged and the champion on the same
    held-out split of `dataset`."""
    X, y = held_out(dataset, settings)
    challenger = task.evaluate(load_logged_model(settings, run_id), X, y)
    champion = load_champion(settings)
    if champion is None:
        return Scores(challenger=challenger)
    version, model = champion
    return Scores(
        challenger=challenger, champion=task.evaluate(model, X, y), champion_version=version
    )


def decide(
    version: str,
    scores: Scores,
    gate: GateResult,
    margin: float,
    metric: Metric = task.PRIMARY_METRIC,
) -> Decision:
    """Whether the challenger `version` replaces the champion: it passes the gate and,
    when there is a champion, beats it on `metric` by at least `margin`."""
    challenger = scores.challenger[metric.name]
    champion = None if scores.champion is None else scores.champion[metric.name]
    if not gate.passed:
        promoted = False
        reason = "the evaluation gate refused it: " + "; ".join(map(str, gate.failures))
    elif champion is None:
        promoted = True
        reason = "it passes the evaluation gate, and there is no champion yet"
    else:
        gain = challenger - champion if metric.higher_is_better else champion - challenger
        # A gain equal to the margin counts, though subtracting floats may land just below.
        promoted = gain >= margin or math.isclose(gain, margin, abs_tol=1e-12)
        better = "higher" if metric.higher_is_better else "lower"
        reason = (
            f"{'beats' if promoted else 'does not beat'} the champion by the margin: "
            f"{gain:+.4f} ({better} is better), margin {margin:g}"
        )
    return Decision(
        version=version,
        promoted=promoted,
        reason=reason,
        metric=metric.logged_as,
        challenger_score=challenger,
        champion_score=champion,
        champion_version=scores.champion_version,
        margin=margin,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


@dataclass(frozen=True)
class Challenger:
    """A registered challenger: its version, and the gate's verdict on its scores."""

    version: str
    gate: GateResult


def register_challenger(settings: Settings, run_id: str, scores: Scores) -> Challenger:
    """Register the run's model as a new version with the alias ``challenger``, tagged
    with the gate's verdict on its held-out scores."""
    client = mlflow_client(settings)
    gate = check_gate(scores.logged(), settings)
    version = register(client, settings.model_name, get_run(client, run_id), gate)
    client.set_registered_model_alias(settings.model_name, CHALLENGER_ALIAS, version.version)
    return Challenger(version=str(version.version), gate=gate)


def settle(settings: Settings, challenger: Challenger, scores: Scores) -> Decision:
    """Decide on the challenger, record the decision on its version and, if it won, move
    the serving alias to it."""
    decision = decide(challenger.version, scores, challenger.gate, settings.challenger_margin)
    client = mlflow_client(settings)
    for key, value in decision.tags().items():
        client.set_model_version_tag(settings.model_name, challenger.version, key, value)
    if decision.promoted:
        client.set_registered_model_alias(
            settings.model_name, settings.model_alias, challenger.version
        )
    return decision


def recent_decisions(settings: Settings, limit: int = 10) -> list[Decision]:
    """The latest `limit` decisions recorded on the registered model's versions, newest
    first."""
    client = mlflow_client(settings)
    versions = client.search_model_versions(f"name = '{settings.model_name}'")
    decided = sorted(
        (version for version in versions if DECISION_TAG in version.tags),
        key=lambda version: int(version.version),
        reverse=True,
    )
    return [Decision.from_tags(str(version.version), version.tags) for version in decided[:limit]]
