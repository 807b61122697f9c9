"""The one place that talks to MLflow: its tracking store and the model registry in it.

A registered model is addressed by its name and an alias (`ModelRef`), never by a
``models:/`` URI written out and parsed back. Finding the version an alias points at,
downloading a version's files and the facts written beside an exported model live here,
so that training, promotion, serving, batch scoring and the model card agree on them.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow
import mlflow.artifacts
from mlflow import ActiveRun, MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from .config import Settings

# Name of the model's artifact in every training run.
MODEL_ARTIFACT = "model"
# The registry facts written beside an exported model.
MODEL_INFO_FILE = "model_info.json"


class RegistryError(Exception):
    """A registry operation that cannot go ahead; the message says why."""


@dataclass(frozen=True)
class ModelRef:
    """A registered model and one of its aliases, such as ``champion``."""

    name: str
    alias: str

    @property
    def uri(self) -> str:
        """MLflow's URI for the version the alias points at, to show where a model is from."""
        return f"models:/{self.name}@{self.alias}"


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

    def write(self, model_dir: Path) -> None:
        """Write the facts beside the model in `model_dir`."""
        text = json.dumps(dataclasses.asdict(self), indent=2) + "\n"
        (model_dir / MODEL_INFO_FILE).write_text(text, encoding="utf-8")


def read_model_info(model_dir: Path) -> ModelInfo | None:
    """The facts written beside an exported model, if any were."""
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


def public_uri(uri: str) -> str:
    """`uri` without the user name and password it may carry, so it can be shown."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client for the tracking store and model registry in `settings`."""
    return MlflowClient(
        tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )


@contextmanager
def training_run(settings: Settings) -> Iterator[ActiveRun]:
    """A new run of the settings' experiment in their tracking store, for MLflow's logging
    functions to log to until the block ends."""
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.mlflow_experiment_name)
    with mlflow.start_run() as run:
        yield run


def find_version(settings: Settings, ref: ModelRef, number: str | None = None) -> ModelVersion:
    """The version of `ref`'s model that its alias points at, or its version `number`.

    Raises `RegistryError` naming what is missing, and where, when there is none.
    """
    client = mlflow_client(settings)
    try:
        if number is None:
            return client.get_model_version_by_alias(ref.name, ref.alias)
        return client.get_model_version(ref.name, number)
    except MlflowException as error:
        wanted = f"alias {ref.alias!r}" if number is None else f"version {number}"
        where = public_uri(settings.mlflow_tracking_uri)
        msg = f"registered model {ref.name!r} has no {wanted} in {where}"
        raise RegistryError(msg) from error


def download_version(settings: Settings, version: ModelVersion, into: Path) -> Path:
    """Download a registered version's model folder into the folder `into`; returns it."""
    location = mlflow_client(settings).get_model_version_download_uri(version.name, version.version)
    downloaded = mlflow.artifacts.download_artifacts(
        artifact_uri=location, dst_path=str(into), tracking_uri=settings.mlflow_tracking_uri
    )
    return Path(downloaded)


def read_run_json(settings: Settings, run_id: str, path: str) -> Any | None:
    """A JSON artifact of a run, or None when the run did not log it."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = mlflow_client(settings).download_artifacts(run_id, path, folder)
        except (MlflowException, OSError):
            return None
        return json.loads(Path(local).read_text(encoding="utf-8"))
