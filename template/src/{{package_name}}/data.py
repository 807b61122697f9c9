"""Load the wine dataset and validate it; separate the features from the target.

How the data is split for training and evaluation depends on the task: see
`task.split_dataset`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
from sklearn.datasets import load_wine

from .schema import DATASET_SCHEMA, FEATURE_COLUMNS, TARGET_COLUMN

DATASET_NAME = "sklearn-wine"


def load_dataset() -> pd.DataFrame:
    """Return the wine dataset, validated: one row per wine, the features and the cultivar.

    The data ships inside scikit-learn, so nothing is downloaded. Its column names are
    made snake_case to match the schema (``od280/od315_of_diluted_wines`` becomes
    ``od280_od315_of_diluted_wines``).
    """
    frame = load_wine(as_frame=True).frame
    frame.columns = [
        TARGET_COLUMN if column == "target" else column.replace("/", "_")
        for column in frame.columns
    ]
    return validate_dataset(frame)


def validate_dataset(frame: pd.DataFrame) -> pd.DataFrame:
    """Check labelled data against the schema and return it with the schema's dtypes.

    Raises ``pandera.errors.SchemaErrors`` listing every failed check at once.
    """
    return DATASET_SCHEMA.validate(frame, lazy=True)


def features_and_target(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series[Any]]:
    """Separate the model's inputs from the label."""
    return frame.loc[:, list(FEATURE_COLUMNS)], frame[TARGET_COLUMN]


def dataset_digest(frame: pd.DataFrame) -> str:
    """Return a SHA-256 of the data's content, to tell which data a model was trained on."""
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    columns = ",".join(map(str, frame.columns)).encode()
    return hashlib.sha256(columns + row_hashes.tobytes()).hexdigest()
