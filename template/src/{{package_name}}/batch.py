"""Score a CSV file offline with the same model the service serves.

The input must have a column per feature (`schema.FEATURE_COLUMNS`), a row for each
prediction; other columns, such as an id, are carried through to the output. The output
is the input followed by the prediction's columns, as `task.Prediction.columns` names
them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pandera.errors import SchemaErrors

from .config import Settings
from .predictor import Predictor, load_predictor
from .schema import FEATURE_COLUMNS, FEATURE_SCHEMA


class BatchInputError(ValueError):
    """The input file cannot be scored; the message lists every problem found."""


def validate_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the feature columns of `frame`, checked against the data contract."""
    missing = [column for column in FEATURE_COLUMNS if column not in frame.columns]
    if missing:
        msg = f"missing feature columns: {', '.join(missing)}"
        raise BatchInputError(msg)
    try:
        return FEATURE_SCHEMA.validate(frame.loc[:, list(FEATURE_COLUMNS)], lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        problems = [
            f"row {row}, column {column}: {check} (got {value})"
            for row, column, check, value in zip(
                cases["index"], cases["column"], cases["check"], cases["failure_case"], strict=True
            )
        ]
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        msg = f"{len(problems)} invalid values:\n  {shown}{more}"
        raise BatchInputError(msg) from errors


def score_frame(frame: pd.DataFrame, predictor: Predictor) -> pd.DataFrame:
    """Return `frame` with the prediction's columns for each row on the right.

    Columns of the same names already in `frame` (a file scored before) are replaced.
    Rows the model cannot predict, though the data contract accepts them (a month a
    forecaster has already seen), raise `BatchInputError` with the model's reason.
    """
    features = validate_features(frame)
    try:
        prediction = predictor.predict(features)
    except ValueError as error:
        msg = f"the model cannot predict these rows: {error}"
        raise BatchInputError(msg) from error
    columns = pd.DataFrame(prediction.columns(), index=frame.index)
    kept = frame.drop(columns=[name for name in columns.columns if name in frame.columns])
    return pd.concat([kept, columns], axis="columns")


def score_csv(input_path: Path, output_path: Path, settings: Settings) -> int:
    """Score every row of `input_path` into `output_path`; returns the number of rows."""
    frame = pd.read_csv(input_path)
    if frame.empty:
        msg = f"{input_path} has no rows to score"
        raise BatchInputError(msg)
    scored = score_frame(frame, load_predictor(settings))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(output_path, index=False)
    return len(scored)
