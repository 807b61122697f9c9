"""Load a model from the registry or an exported folder and predict with it.

Serving and batch scoring share this loader, so both find the model the same way:

- `MODEL_DIR` unset: the version the registered model's alias points at
  (`MODEL_NAME` and `MODEL_ALIAS`), downloaded from the registry;
- `MODEL_DIR` set: the model in that folder, such as the one `export-model` writes, with
  its version read from the `model_info.json` beside it (no registry needed).

Either way the model is loaded by `model_loading`, which runs no code from the artifact,
and predicts as `task` says, from the input `request.model_input` makes of a request or
from a table with the schema's `FEATURE_COLUMNS` (batch scoring).
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pandas as pd

from . import task
from .config import Settings
from .model_loading import load_estimator
from .registry import served_model
from .request import ModelInput
from .schema import FEATURE_COLUMNS
from .tracking import ModelInfo, download_version, find_version, read_model_info


@dataclass(frozen=True)
class Predictor:
    """A loaded model, with which registered version it is and where it was loaded from."""

    model: task.Model
    info: ModelInfo
    location: str

    @property
    def version(self) -> str:
        return self.info.version

    def __post_init__(self) -> None:
        # `predict` passes plain arrays, whose columns have no names to check: make sure
        # once that a model that names its features was fitted on FEATURE_COLUMNS, in
        # that order.
        fitted_on = getattr(self.model, "feature_names_in_", None)
        if fitted_on is not None and tuple(fitted_on) != FEATURE_COLUMNS:
            msg = (
                f"the model {self.location} was fitted on the features {list(fitted_on)}, "
                f"not on this project's {list(FEATURE_COLUMNS)}"
            )
            raise ValueError(msg)

    def predict(self, wanted: pd.DataFrame | npt.NDArray[Any] | ModelInput) -> task.Prediction:
        """The model's prediction for what `wanted` asks.

        `wanted` is what `request.model_input` makes of a request, or rows to predict: a
        DataFrame with the `FEATURE_COLUMNS`, passed on as an array with a column per
        feature in that order, or such an array. The service passes arrays: for the small
        batches it predicts, building a DataFrame and having scikit-learn check its column
        names and dtypes takes longer than the prediction itself.
        """
        model_input: ModelInput | npt.NDArray[Any] = (
            wanted.loc[:, list(FEATURE_COLUMNS)].to_numpy()
            if isinstance(wanted, pd.DataFrame)
            else wanted
        )
        with warnings.catch_warnings():
            # The columns were checked once, when the model was loaded (see above).
            warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
            return task.predict(self.model, model_input)


def model_location(settings: Settings) -> str:
    """Where `load_predictor` loads the model from: the folder, or the registry's alias."""
    if settings.model_dir is not None:
        return str(settings.model_dir)
    return served_model(settings).uri


def load_predictor(settings: Settings) -> Predictor:
    """Load the model `settings` point at (see the module docstring)."""
    location = model_location(settings)
    if settings.model_dir is not None:
        folder = settings.model_dir
        info = read_model_info(folder) or ModelInfo(
            name="", version="unversioned", alias="", run_id="", source=f"the folder {folder}"
        )
        return Predictor(model=load_estimator(folder), info=info, location=location)
    ref = served_model(settings)
    version = find_version(settings, ref)
    with tempfile.TemporaryDirectory() as download:
        model = load_estimator(download_version(settings, version, Path(download)))
    return Predictor(
        model=model, info=ModelInfo.of(version, ref.alias, settings), location=location
    )
