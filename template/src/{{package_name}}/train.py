"""Train the model, evaluate it on held-out data and track the run in MLflow.

What is trained and how it is judged is the task's (`task`): this module runs the steps
and records them.
"""

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
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema

from . import task
from .config import Settings
from .data import DATASET_NAME, dataset_digest, features_and_target, load_dataset
from .evaluation import TEST_PREFIX
from .lineage import git_tags
from .request import input_example
from .schema import FEATURE_COLUMNS, TARGET_COLUMN
from .tracking import MODEL_ARTIFACT, training_run


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced: its MLflow run, the logged model and its test metrics."""

    run_id: str
    model_uri: str
    metrics: dict[str, float]


def train_and_log(settings: Settings, dataset: pd.DataFrame | None = None) -> TrainingResult:
    """Train on the training split, evaluate on the test split and log it all as one run.

    `dataset` is validated data to train on; by default the project's own (`load_dataset`).

    The run records the parameters, the test metrics (prefixed ``test_``), the task's
    evaluation details, the data it was trained on, the code version when run inside a
    git work tree, and the model itself, saved with skops rather than pickle so that
    loading it cannot run arbitrary code.
    """
    if dataset is None:
        dataset = load_dataset()
    train, test = task.split_dataset(dataset, settings.test_size, settings.random_seed)
    X_train, y_train = features_and_target(train)
    X_test, y_test = features_and_target(test)

    estimator = task.build_estimator(settings.random_seed)
    estimator.fit(X_train, y_train)
    metrics = task.evaluate(estimator, X_test, y_test)

    with training_run(settings) as run:
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
                **model_params(estimator),
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
        mlflow.log_metrics({f"{TEST_PREFIX}{name}": value for name, value in metrics.items()})
        mlflow.log_dict(
            task.evaluation_details(estimator, X_test, y_test), task.EVALUATION_ARTIFACT
        )
        model_info = mlflow.sklearn.log_model(
            estimator,
            name=MODEL_ARTIFACT,
            serialization_format="skops",
            skops_trusted_types=list(task.TRUSTED_TYPES),
            signature=model_signature(X_train),
            input_example=input_example(X_train),
            pip_requirements=pip_requirements(),
        )
    return TrainingResult(run_id=run.info.run_id, model_uri=model_info.model_uri, metrics=metrics)


def model_params(estimator: Any) -> dict[str, Any]:
    """Return the hyperparameters of every step, named ``<step>__<parameter>``."""
    params: dict[str, Any] = estimator.get_params(deep=True)
    return {name: value for name, value in params.items() if "__" in name}


def model_signature(features: pd.DataFrame) -> ModelSignature:
    """Return the model's interface: the schema's features in, with their types in
    `features` (validated data), and the target out."""
    return ModelSignature(
        inputs=infer_signature(features.loc[:, list(FEATURE_COLUMNS)]).inputs,
        outputs=Schema([ColSpec(task.TARGET_TYPE, TARGET_COLUMN)]),
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
