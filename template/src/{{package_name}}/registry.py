"""The model registry: an evaluation gate before promotion, and export for serving.

`promote` registers a training run's model as a new version of the registered model and
moves the serving alias (``champion`` by default) to it only when its test metrics pass
the gate. Every candidate is registered, passed or not, and tagged with the gate's
verdict, so the registry keeps a record of what was refused and why.

`export_model` copies the version the alias points at into a folder with a
``model_info.json`` beside it, so that a container can serve it without a registry and
still say which model it serves and where that model came from.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mlflow.artifacts
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from .config import Settings

# Tags set on every registered version.
GATE_TAG = "gate"
GATE_DETAILS_TAG = "gate_details"

# The registry facts written beside an exported model.
MODEL_INFO_FILE = "model_info.json"


class RegistryError(Exception):
    """A registry operation that cannot go ahead; the message says why."""


@dataclass(frozen=True)
class GateCheck:
    """One threshold of the gate, and the run's value for it."""

    metric: str
    threshold: float
    value: float | None

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.threshold

    def __str__(self) -> str:
        value = "missing" if self.value is None else f"{self.value:.4f}"
        verdict = "ok" if self.passed else "FAILED"
        return f"{self.metric} = {value} (at least {self.threshold:g}): {verdict}"


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


@dataclass(frozen=True)
class ModelInfo:
    """Which registered model version a loaded or exported model is, and where it came from."""

    name: str
    version: str
    alias: str
    run_id: str
    source: str

    @classmethod
    def of(cls, version: ModelVersion, alias: str, settings: Settings) -> ModelInfo:
        """The facts of a registered version, with the registry it is registered in."""
        return cls(
            name=version.name,
            version=str(version.version),
            alias=alias,
            run_id=str(version.run_id),
            source=f"registry {public_uri(settings.mlflow_tracking_uri)}",
        )


def public_uri(uri: str) -> str:
    """`uri` without the user name and password it may carry, so it can be shown."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def read_model_info(model_dir: Path) -> ModelInfo | None:
    """The facts `export_model` wrote beside an exported model, if it wrote any."""
    info_file = model_dir / MODEL_INFO_FILE
    if not info_file.is_file():
        return None
    recorded = json.loads(info_file.read_text(encoding="utf-8"))
    # Exports written by earlier versions of the project lack some of the facts.
    return ModelInfo(
        **{
            field.name: str(recorded.get(field.name, "not recorded"))
            for field in dataclasses.fields(ModelInfo)
        }
    )


def registered_version(
    settings: Settings, name: str, *, alias: str | None = None, version: str | None = None
) -> ModelVersion:
    """The version of registered model `name` that `alias` points at, or `version` itself."""
    client = mlflow_client(settings)
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, str(version))
    except MlflowException as error:
        wanted = f"alias {alias!r}" if alias is not None else f"version {version}"
        msg = f"registered model {name!r} has no {wanted} in {public_uri(client.tracking_uri)}"
        raise RegistryError(msg) from error


def gate_thresholds(settings: Settings) -> dict[str, float]:
    """The least value of each logged test metric a model needs to be promoted."""
    return {
        "test_accuracy": settings.gate_min_accuracy,
        "test_f1_macro": settings.gate_min_f1_macro,
    }


def check_gate(metrics: dict[str, float], settings: Settings) -> GateResult:
    """Compare a run's metrics with the thresholds; a missing metric fails its check."""
    return GateResult(
        checks=tuple(
            GateCheck(metric=metric, threshold=threshold, value=metrics.get(metric))
            for metric, threshold in gate_thresholds(settings).items()
        )
    )


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client for the tracking store and model registry in `settings`."""
    return MlflowClient(
        tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
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


def promote(settings: Settings, run_id: str | None = None) -> Promotion:
    """Register a run's model and give it the serving alias if it passes the gate.

    Without `run_id`, the latest finished run of the experiment is taken.
    """
    client = mlflow_client(settings)
    run = get_run(client, run_id) if run_id else latest_run(client, settings)
    gate = check_gate(run.data.metrics, settings)
    model_id = logged_model_id(run)
    try:
        client.get_registered_model(settings.model_name)
    except MlflowException:
        client.create_registered_model(settings.model_name)
    version = client.create_model_version(
        name=settings.model_name,
        source=client.get_logged_model(model_id).model_uri,
        run_id=run.info.run_id,
        model_id=model_id,
        tags={GATE_TAG: "passed" if gate.passed else "failed", GATE_DETAILS_TAG: gate.summary()},
    )
    if gate.passed:
        client.set_registered_model_alias(
            settings.model_name, settings.model_alias, version.version
        )
    return Promotion(
        name=settings.model_name,
        version=str(version.version),
        run_id=run.info.run_id,
        alias=settings.model_alias,
        gate=gate,
    )


def export_model(settings: Settings, source: str | None = None) -> ModelInfo:
    """Copy the version the serving alias points at to `settings.export_dir`.

    The folder is replaced if it holds an earlier export, and gets a ``model_info.json``
    with the registered name, version, alias and run, and the model's `source`: by
    default the registry it was exported from. Returns those facts.
    """
    try:
        version = registered_version(settings, settings.model_name, alias=settings.model_alias)
    except RegistryError as error:
        msg = f"{error}: promote a model that passes the gate first"
        raise RegistryError(msg) from error
    target = settings.export_dir
    if target.exists() and not (target / MODEL_INFO_FILE).is_file() and any(target.iterdir()):
        msg = f"{target} exists and is not an earlier export; not overwriting it"
        raise RegistryError(msg)
    target.parent.mkdir(parents=True, exist_ok=True)
    location = mlflow_client(settings).get_model_version_download_uri(version.name, version.version)
    # Download next to the target first, so a failed download leaves the old export intact.
    with tempfile.TemporaryDirectory(dir=target.parent) as staging:
        downloaded = mlflow.artifacts.download_artifacts(
            artifact_uri=location, dst_path=staging, tracking_uri=settings.mlflow_tracking_uri
        )
        if target.exists():
            shutil.rmtree(target)
        Path(downloaded).rename(target)
    info = ModelInfo.of(version, settings.model_alias, settings)
    if source is not None:
        info = dataclasses.replace(info, source=source)
    text = json.dumps(dataclasses.asdict(info), indent=2) + "\n"
    (target / MODEL_INFO_FILE).write_text(text, encoding="utf-8")
    return info
