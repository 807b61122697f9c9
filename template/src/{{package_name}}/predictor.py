"""Load a model from the registry or an exported folder and predict with it.

Serving and batch scoring share this loader, so both resolve `MODEL_URI` the same way:

- unset: the registered model's alias, `models:/<MODEL_NAME>@<MODEL_ALIAS>`;
- `models:/<name>@<alias>` or `models:/<name>/<version>`: a registered version;
- a local folder, such as the one `export-model` writes: the model it holds, with its
  version read from the `model_info.json` beside it (no registry needed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import mlflow.sklearn
import numpy as np
import numpy.typing as npt
import pandas as pd
from mlflow import MlflowClient

from .config import Settings
from .schema import FEATURE_COLUMNS

MODEL_INFO_FILE = "model_info.json"


class Classifier(Protocol):
    """What the project needs from a fitted scikit-learn classifier."""

    classes_: npt.NDArray[Any]

    def predict_proba(self, features: pd.DataFrame) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class Predictions:
    """Predicted classes and class probabilities for a batch of records."""

    labels: list[int]
    probabilities: list[list[float]]


@dataclass(frozen=True)
class Predictor:
    """A loaded model together with the version it was loaded as."""

    model: Classifier
    version: str
    uri: str

    @property
    def classes(self) -> list[int]:
        return [int(label) for label in self.model.classes_]

    def predict(self, features: pd.DataFrame) -> Predictions:
        """Predict classes and probabilities; `features` must hold `FEATURE_COLUMNS`."""
        if tuple(features.columns) != FEATURE_COLUMNS:
            features = features.loc[:, list(FEATURE_COLUMNS)]
        probabilities = self.model.predict_proba(features)
        labels = self.model.classes_[probabilities.argmax(axis=1)]
        return Predictions(labels=labels.tolist(), probabilities=probabilities.tolist())


def features_frame(records: Sequence[Mapping[str, float]]) -> pd.DataFrame:
    """Records (feature name to value) as the model's input frame, columns in order."""
    values = np.array([[record[name] for name in FEATURE_COLUMNS] for record in records])
    return pd.DataFrame(values, columns=list(FEATURE_COLUMNS), dtype=np.float64)


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """Split `models:/name@alias` or `models:/name/version` into (name, alias, version)."""
    reference = uri.removeprefix("models:/")
    if "@" in reference:
        name, alias = reference.rsplit("@", 1)
        return name, alias, None
    name, _, version = reference.rpartition("/")
    if not name or not version.isdigit():
        msg = f"expected models:/<name>@<alias> or models:/<name>/<version>, got {uri!r}"
        raise ValueError(msg)
    return name, None, version


def read_model_info(model_dir: Path) -> dict[str, str]:
    """The registry facts `export-model` wrote next to an exported model."""
    info_file = model_dir / MODEL_INFO_FILE
    if not info_file.is_file():
        return {}
    info: dict[str, str] = json.loads(info_file.read_text(encoding="utf-8"))
    return info


def load_predictor(settings: Settings) -> Predictor:
    """Load the model `settings` point at (see the module docstring)."""
    uri = settings.model_uri
    if uri.startswith("models:/"):
        client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
        name, alias, version = parse_registry_uri(uri)
        if alias is not None:
            version = client.get_model_version_by_alias(name, alias).version
        location = client.get_model_version_download_uri(name, str(version))
        model = mlflow.sklearn.load_model(location)
        return Predictor(model=model, version=str(version), uri=uri)
    model = mlflow.sklearn.load_model(uri)
    info = read_model_info(Path(uri))
    return Predictor(model=model, version=str(info.get("version", "unversioned")), uri=uri)
