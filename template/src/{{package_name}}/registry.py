"""The model registry: an evaluation gate before promotion, and export for serving.

`promote` registers a training run's model as a new version of the registered model and
moves the serving alias (``champion`` by default) to it only when its test metrics pass
the gate: every threshold of `task.gate`, each an "at least" or an "at most". Every
candidate is registered, passed or not, and tagged with the gate's verdict, so the
registry keeps a record of what was refused and why.

`export_model` copies the version the alias points at into a folder with a
``model_info.json`` beside it, so that a container can serve it without a registry and
still say which model it serves and where that model came from.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from . import task
from .config import Settings
from .evaluation import Threshold
from .tracking import (
    MODEL_INFO_FILE,
    ModelInfo,
    ModelRef,
    RegistryError,
    download_version,
    find_version,
    mlflow_client,
)

# Tags set on every registered version.
GATE_TAG = "gate"
GATE_DETAILS_TAG = "gate_details"


@dataclass(frozen=True)
class GateCheck:
    """One threshold of the gate, and the run's value for it."""

    threshold: Threshold
    value: float | None

    @property
    def metric(self) -> str:
        """The name the threshold's metric is logged under, ``test_<name>``."""
        return self.threshold.metric.logged_as

    @property
    def passed(self) -> bool:
        return self.value is not None and self.threshold.admits(self.value)

    def __str__(self) -> str:
        value = "missing" if self.value is None else f"{self.value:.4f}"
        verdict = "ok" if self.passed else "FAILED"
        return f"{self.metric} = {value} ({self.threshold}): {verdict}"


@dataclass(frozen=True)
class GateResult:
    """The verdict of the gate on one run."""

    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[GateCheck, ...]:
        return tuple(check for check in self.checks if not check.passed)

    def summary(self) -> str:
        return "; ".join(str(check) for check in self.checks)


@dataclass(frozen=True)
class Promotion:
    """What `promote` did: the version it registered and whether the alias moved to it."""

    name: str
    version: str
    run_id: str
    alias: str
    gate: GateResult

    @property
    def promoted(self) -> bool:
        return self.gate.passed


def served_model(settings: Settings) -> ModelRef:
    """The registered model and alias that promotion moves and serving loads."""
    return ModelRef(name=settings.model_name, alias=settings.model_alias)


def check_gate(metrics: dict[str, float], settings: Settings) -> GateResult:
    """Compare a run's logged metrics with the gate; a missing metric fails its check."""
    return GateResult(
        checks=tuple(
            GateCheck(threshold=threshold, value=metrics.get(threshold.metric.logged_as))
            for threshold in task.gate(settings)
        )
    )


def latest_run(client: MlflowClient, settings: Settings) -> Run:
    """The most recent finished run of the experiment."""
    experiment = client.get_experiment_by_name(settings.mlflow_experiment_name)
    if experiment is None:
        msg = f"no experiment {settings.mlflow_experiment_name!r} yet: train a model first"
        raise RegistryError(msg)
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        msg = f"experiment {settings.mlflow_experiment_name!r} has no finished run to promote"
        raise RegistryError(msg)
    return runs[0]


def get_run(client: MlflowClient, run_id: str) -> Run:
    """The run with `run_id`, or a `RegistryError` that says it does not exist."""
    try:
        return client.get_run(run_id)
    except MlflowException as error:
        msg = f"no run {run_id!r} in {client.tracking_uri}"
        raise RegistryError(msg) from error


def logged_model_id(run: Run) -> str:
    """The id of the model the run logged."""
    outputs = run.outputs.model_outputs if run.outputs else []
    if not outputs:
        msg = f"run {run.info.run_id} logged no model"
        raise RegistryError(msg)
    return outputs[-1].model_id


def register(client: MlflowClient, name: str, run: Run, gate: GateResult) -> ModelVersion:
    """Register the model `run` logged as a new version of `name`, tagged with the gate's
    verdict on it; the registered model is created with its first version."""
    model_id = logged_model_id(run)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    # The model's own location, not its ``models:/`` URI: MLflow resolves such a URI
    # against its global tracking URI, which need not be this client's store.
    return client.create_model_version(
        name=name,
        source=client.get_logged_model(model_id).artifact_location,
        run_id=run.info.run_id,
        model_id=model_id,
        tags={GATE_TAG: "passed" if gate.passed else "failed", GATE_DETAILS_TAG: gate.summary()},
    )


def promote(settings: Settings, run_id: str | None = None) -> Promotion:
    """Register a run's model and give it the serving alias if it passes the gate.

    Without `run_id`, the latest finished run of the experiment is taken.
    """
    ref = served_model(settings)
    client = mlflow_client(settings)
    run = get_run(client, run_id) if run_id else latest_run(client, settings)
    gate = check_gate(run.data.metrics, settings)
    version = register(client, ref.name, run, gate)
    if gate.passed:
        client.set_registered_model_alias(ref.name, ref.alias, version.version)
    return Promotion(
        name=ref.name,
        version=str(version.version),
        run_id=run.info.run_id,
        alias=ref.alias,
        gate=gate,
    )


def export_model(settings: Settings, source: str | None = None) -> ModelInfo:
    """Copy the version the serving alias points at to `settings.export_dir`.

    The folder is replaced if it holds an earlier export, and gets a ``model_info.json``
    with the registered name, version, alias and run, and the model's `source`: by
    default the registry it was exported from. Returns those facts.
    """
    ref = served_model(settings)
    try:
        version = find_version(settings, ref)
    except RegistryError as error:
        msg = f"{error}: promote a model that passes the gate first"
        raise RegistryError(msg) from error
    target = settings.export_dir
    if target.exists() and not (target / MODEL_INFO_FILE).is_file() and any(target.iterdir()):
        msg = f"{target} exists and is not an earlier export; not overwriting it"
        raise RegistryError(msg)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Download next to the target first, so a failed download leaves the old export intact.
    with tempfile.TemporaryDirectory(dir=target.parent) as staging:
        downloaded = download_version(settings, version, Path(staging))
        if target.exists():
            shutil.rmtree(target)
        downloaded.rename(target)
    info = ModelInfo.of(version, ref.alias, settings)
    if source is not None:
        info = dataclasses.replace(info, source=source)
    info.write(target)
    return info
