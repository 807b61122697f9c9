"""Train the model, evaluate it on held-out data and track the run in MLflow."""

import warnings
from dataclasses import dataclass
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import sklearn
import skops
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .config import Settings
from .data import DATASET_NAME, dataset_digest, features_and_target, load_dataset, split_dataset
from .evaluate import confusion_table, evaluate
from .lineage import git_tags
from .schema import FEATURE_COLUMNS, TARGET_COLUMN

# Name of the model's artifact in every training run.
MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced: its MLflow run, the logged model and its test metrics."""

    run_id: str
    model_uri: str
    metrics: dict[str, float]


def build_pipeline(seed: int) -> Pipeline:
    """Return the untrained model: standardised features into a logistic regression."""
    return Pipeline(
        steps=[
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=1.0, max_iter=1000, random_state=seed)),
        ]
    )


def train_and_log(settings: Settings) -> TrainingResult:
    """Train on the training split, evaluate on the test split and log it all as one run.

    The run records the parameters, the test metrics (prefixed ``test_``), the data it was
    trained on, the code version when run inside a git work tree, and the model itself,
    saved with skops rather than pickle so that loading it cannot run arbitrary code.
    """
    dataset = load_dataset()
    train, test = split_dataset(dataset, settings.test_size, settings.random_seed)
    X_train, y_train = features_and_target(train)
    X_test, y_test = features_and_target(test)

    pipeline = build_pipeline(settings.random_seed)
    pipeline.fit(X_train, y_train)
    metrics = evaluate(pipeline, X_test, y_test)

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.mlflow_experiment_name)
    with mlflow.start_run() as run:
        mlflow.set_tags(git_tags())
        mlflow.log_params(
            {
                "random_seed": settings.random_seed,
                "test_size": settings.test_size,
                "dataset_name": DATASET_NAME,
                "dataset_rows": len(dataset),
                "dataset_digest": dataset_digest(dataset),
                "train_rows": len(train),
                "test_rows": len(test),
                **model_params(pipeline),
            }
        )
        with warnings.catch_warnings():
            # MLflow warns that integer columns cannot hold missing values; the schema
            # has already guaranteed there are none.
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer")
            mlflow.log_input(
                from_pandas(dataset, name=DATASET_NAME, targets=TARGET_COLUMN),
                context="training",
            )
        mlflow.log_metrics({f"test_{name}": value for name, value in metrics.items()})
        mlflow.log_dict(confusion_table(pipeline, X_test, y_test), "confusion_matrix.json")
        model_info = mlflow.sklearn.log_model(
            pipeline,
            name=MODEL_ARTIFACT,
            serialization_format="skops",
            signature=model_signature(),
            input_example=X_train.head(3),
            pip_requirements=pip_requirements(),
        )
    return TrainingResult(run_id=run.info.run_id, model_uri=model_info.model_uri, metrics=metrics)


def model_params(pipeline: Pipeline) -> dict[str, Any]:
    """Return the hyperparameters of every step, named ``<step>__<parameter>``."""
    params: dict[str, Any] = pipeline.get_params(deep=True)
    return {name: value for name, value in params.items() if "__" in name}


def model_signature() -> ModelSignature:
    """Return the model's interface: the schema's features in, one class label out."""
    return ModelSignature(
        inputs=Schema([ColSpec("double", name) for name in FEATURE_COLUMNS]),
        outputs=Schema([ColSpec("long", TARGET_COLUMN)]),
    )


def pip_requirements() -> list[str]:
    """Return the packages the logged model needs, pinned to the versions that trained it.

    Listing them spares MLflow from inferring them, which loads the model again in a
    subprocess and takes seconds.
    """
    return [
        f"mlflow-skinny=={mlflow.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
    ]
