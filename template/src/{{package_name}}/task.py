"""The problem the model solves: classifying each record into one of the target's classes.

Everything that depends on the kind of problem is stated here, and nowhere else:

- the target: what the model outputs, and how the data is split by it;
- the estimator;
- the metrics, each better higher or lower, and the thresholds of the evaluation gate;
- the prediction, and the forms it takes: the API's response, the prediction log's rows,
  batch scoring's columns and the service's count of outcomes.

Training, the registry, serving, batch scoring, the prediction log and the model card ask
this module, and know nothing of classes or probabilities themselves. The data (the
features, the target column and its classes) is described in `schema`.

scikit-learn is imported inside the functions that use it: promotion reads the gate from
this module and should not wait seconds for the training stack to load.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from .evaluation import Metric, Table, Threshold
from .schema import CLASSES, TARGET_COLUMN

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

# The target ----------------------------------------------------------------------------

# The model outputs one class per record, an integer; MLflow's name for that type, for the
# model's signature.
TARGET_TYPE = "long"


def split_dataset(
    frame: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into train and test sets, stratified by class and reproducible by seed.

    Each class keeps its share of the rows in both sets, so the test metrics are not
    thrown off by a class the split happened to leave out.
    """
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[TARGET_COLUMN]
    )
    return train, test


# The estimator -------------------------------------------------------------------------


class Model(Protocol):
    """What the project needs from a fitted scikit-learn classifier."""

    classes_: npt.NDArray[Any]

    def predict(self, X: Any) -> Any: ...

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]: ...


def build_estimator(seed: int) -> Pipeline:
    """Return the untrained model: standardised features into a logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        steps=[
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=1.0, max_iter=1000, random_state=seed)),
        ]
    )


# Metrics and the evaluation gate -------------------------------------------------------

ACCURACY = Metric("accuracy", higher_is_better=True)
F1_MACRO = Metric("f1_macro", higher_is_better=True)
PRECISION_MACRO = Metric("precision_macro", higher_is_better=True)
RECALL_MACRO = Metric("recall_macro", higher_is_better=True)
LOG_LOSS = Metric("log_loss", higher_is_better=False)
METRICS: tuple[Metric, ...] = (ACCURACY, F1_MACRO, PRECISION_MACRO, RECALL_MACRO, LOG_LOSS)


def evaluate(model: Model, X: pd.DataFrame, y: pd.Series[Any]) -> dict[str, float]:
    """Score a model on labelled data, by the name of each of `METRICS`.

    Accuracy, and precision, recall and F1 averaged over the classes with equal weight
    (macro), so a model that neglects the smallest class scores visibly lower. Log loss
    judges the predicted probabilities, not only the hard predictions.
    """
    from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score

    predicted = model.predict(X)
    labels = list(CLASSES)
    return {
        ACCURACY.name: float(accuracy_score(y, predicted)),
        F1_MACRO.name: float(f1_score(y, predicted, labels=labels, average="macro")),
        PRECISION_MACRO.name: float(
            precision_score(y, predicted, labels=labels, average="macro", zero_division=0)
        ),
        RECALL_MACRO.name: float(recall_score(y, predicted, labels=labels, average="macro")),
        LOG_LOSS.name: float(log_loss(y, model.predict_proba(X), labels=labels)),
    }


# The run artifact that holds `evaluation_details`.
EVALUATION_ARTIFACT = "confusion_matrix.json"


def evaluation_details(model: Model, X: pd.DataFrame, y: pd.Series[Any]) -> dict[str, Any]:
    """The confusion matrix with its labels: rows are true classes, columns predicted."""
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y, model.predict(X), labels=list(CLASSES))
    return {"labels": list(CLASSES), "matrix": matrix.tolist()}


def evaluation_table(details: dict[str, Any]) -> Table:
    """`evaluation_details` as the model card shows them."""
    labels = [str(label) for label in details["labels"]]
    return Table(
        caption="Confusion matrix on the test split: a row per true class, a column per "
        "predicted class.",
        header=("true \\ predicted", *labels),
        rows=[
            (label, *(str(count) for count in counts))
            for label, counts in zip(labels, details["matrix"], strict=True)
        ],
    )


class GateSettings(Protocol):
    """The settings `gate` reads (the registry's, from the deploy stage on)."""

    gate_min_accuracy: float
    gate_min_f1_macro: float


def gate(settings: GateSettings) -> tuple[Threshold, ...]:
    """What a model must reach on the test split to be promoted: at least GATE_MIN_ACCURACY
    accuracy and GATE_MIN_F1_MACRO macro-averaged F1."""
    return (
        Threshold(ACCURACY, settings.gate_min_accuracy),
        Threshold(F1_MACRO, settings.gate_min_f1_macro),
    )


# What the model card says about every model of this kind, beside what holds for any model.
LIMITATIONS: tuple[str, ...] = (
    'The model predicts one of the classes it was trained on; it cannot say "none of these".',
)

# The prediction ------------------------------------------------------------------------

# The service counts the records it scores by outcome, under this Prometheus label: for a
# classifier, the predicted class (one of a few values, so no client can add series).
OUTCOME_LABEL = "predicted_class"
# Batch scoring's column for the predicted class; a `probability_<class>` column per class
# follows it.
PREDICTION_COLUMN = "prediction"


class PredictionResponse(BaseModel):
    """Predictions for a batch, in the order of the request's records."""

    predictions: list[int] = Field(description="Predicted class per record.")
    probabilities: list[list[float]] = Field(
        description="Per record, the probability of each class, in the order of `classes`."
    )
    classes: list[int] = Field(description="The class labels the probabilities refer to.")
    model_version: str = Field(description="Registered version of the model that answered.")


@dataclass(frozen=True)
class Prediction:
    """The model's answer for a batch of records: each record's class, and the probability
    of every class."""

    labels: list[int]
    probabilities: list[list[float]]
    classes: list[int]

    def outcomes(self) -> list[int]:
        """What each record counts as in the service's metrics: its predicted class."""
        return self.labels

    def response(self, model_version: str) -> PredictionResponse:
        """The API's answer. Built from the model's own output (NumPy's lists of ints and
        floats), so there is nothing to validate."""
        return PredictionResponse.model_construct(
            predictions=self.labels,
            probabilities=self.probabilities,
            classes=self.classes,
            model_version=model_version,
        )

    def columns(self) -> dict[str, list[Any]]:
        """Batch scoring's output columns, in order: the class, then each class's probability."""
        return {
            PREDICTION_COLUMN: self.labels,
            **{
                f"probability_{label}": [row[index] for row in self.probabilities]
                for index, label in enumerate(self.classes)
            },
        }


def predict(model: Model, features: pd.DataFrame | npt.NDArray[np.float64]) -> Prediction:
    """The model's prediction for a row of `features` per record."""
    probabilities = model.predict_proba(features)
    labels = model.classes_[probabilities.argmax(axis=1)]
    return Prediction(
        labels=labels.tolist(),
        probabilities=probabilities.tolist(),
        classes=model.classes_.tolist(),
    )


def logged_predictions(response: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each record's prediction in a logged API response, as the prediction log's rows
    show it: the predicted class and the class probabilities."""
    for label, probabilities in zip(
        response["predictions"], response["probabilities"], strict=True
    ):
        yield {"prediction": label, "probabilities": probabilities}
