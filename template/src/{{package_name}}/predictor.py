"""Load a model from the registry or an exported folder and predict with it.

Serving and batch scoring share this loader, so both resolve `MODEL_URI` the same way:

- unset: the registered model's alias, `models:/<MODEL_NAME>@<MODEL_ALIAS>`;
- `models:/<name>@<alias>` or `models:/<name>/<version>`: a registered version;
- a local folder, such as the one `export-model` writes: the model it holds, with its
  version read from the `model_info.json` beside it (no registry needed).

Either way the model is loaded by `model_loading`, which runs no code from the artifact.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import mlflow.artifacts
import numpy as np
import numpy.typing as npt
import pandas as pd

from .config import Settings
from .model_loading import load_estimator
from .registry import ModelInfo, mlflow_client, read_model_info, registered_version
from .schema import FEATURE_COLUMNS


class Classifier(Protocol):
    """What the project needs from a fitted scikit-learn classifier."""

    classes_: npt.NDArray[Any]

    def predict_proba(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class Predictions:
    """Predicted classes and class probabilities for a batch of records."""

    labels: list[int]
    probabilities: list[list[float]]


@dataclass(frozen=True)
class Predictor:
    """A loaded model, with which registered version it is and where it came from."""

    model: Classifier
    info: ModelInfo
    uri: str

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def classes(self) -> list[int]:
        return [int(label) for label in self.model.classes_]

    def __post_init__(self) -> None:
        # `predict` takes plain arrays, whose columns have no names to check: make sure
        # once that the model was fitted on FEATURE_COLUMNS, in that order.
        fitted_on = getattr(self.model, "feature_names_in_", None)
        if fitted_on is not None and tuple(fitted_on) != FEATURE_COLUMNS:
            msg = (
                f"the model {self.uri} was fitted on the features {list(fitted_on)}, "
                f"not on this project's {list(FEATURE_COLUMNS)}"
            )
            raise ValueError(msg)

    def predict(self, features: pd.DataFrame | npt.NDArray[np.float64]) -> Predictions:
        """Predict classes and probabilities, one row of `features` per record.

        `features` is a DataFrame with the `FEATURE_COLUMNS`, or an array with a column per
        feature in that order. The service passes arrays: for the small batches it
        predicts, building a DataFrame and having scikit-learn check its column names and
        dtypes takes longer than the prediction itself.
        """
        if isinstance(features, pd.DataFrame):
            features = features.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
        with warnings.catch_warnings():
            # The columns were checked once, when the model was loaded (see above).
            warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
            probabilities = self.model.predict_proba(features)
        labels = self.model.classes_[probabilities.argmax(axis=1)]
        return Predictions(labels=labels.tolist(), probabilities=probabilities.tolist())


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


def load_predictor(settings: Settings) -> Predictor:
    """Load the model `settings` point at (see the module docstring)."""
    uri = settings.model_uri
    if uri.startswith("models:/"):
        name, alias, number = parse_registry_uri(uri)
        version = registered_version(settings, name, alias=alias, version=number)
        info = ModelInfo.of(version, alias or "", settings)
        location = mlflow_client(settings).get_model_version_download_uri(name, info.version)
        with tempfile.TemporaryDirectory() as download:
            model_dir = mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=download, tracking_uri=settings.mlflow_tracking_uri
            )
            model = load_estimator(Path(model_dir))
        return Predictor(model=model, info=info, uri=uri)
    info = read_model_info(Path(uri)) or ModelInfo(
        name="", version="unversioned", alias="", run_id="", source=f"the folder {uri}"
    )
    return Predictor(model=load_estimator(Path(uri)), info=info, uri=uri)
