"""Metrics for a multi-class classifier, computed on held-out data."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
)

from .schema import CLASSES


class Classifier(Protocol):
    """What evaluation needs from a model: hard predictions and class probabilities."""

    def predict(self, X: pd.DataFrame) -> Any: ...

    def predict_proba(self, X: pd.DataFrame) -> Any: ...


def evaluate(model: Classifier, X: pd.DataFrame, y: pd.Series[int]) -> dict[str, float]:
    """Score a model on labelled data.

    Accuracy, and precision, recall and F1 averaged over the classes with equal weight
    (macro), so a model that neglects the smallest class scores visibly lower. Log loss
    judges the predicted probabilities, not only the hard predictions.
    """
    predicted = model.predict(X)
    labels = list(CLASSES)
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, labels=labels, average="macro")),
        "precision_macro": float(
            precision_score(y, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "recall_macro": float(recall_score(y, predicted, labels=labels, average="macro")),
        "log_loss": float(log_loss(y, model.predict_proba(X), labels=labels)),
    }


def confusion_table(model: Classifier, X: pd.DataFrame, y: pd.Series[int]) -> dict[str, Any]:
    """Return the confusion matrix with its labels: rows are true classes, columns predicted."""
    matrix = confusion_matrix(y, model.predict(X), labels=list(CLASSES))
    return {"labels": list(CLASSES), "matrix": matrix.tolist()}
