"""Load a saved model without running code that came with it.

A model folder (an ``MLmodel`` file beside the serialised estimator) is data that may come
from anywhere: a registry others can write to, an artifact store, a container image.
Pickle and cloudpickle run arbitrary code while loading, and skops is only safe with a
list of trusted types chosen by whoever loads the file. MLflow's own loader takes both the
format and that list from the folder's ``MLmodel`` file, so a tampered folder decides what
runs. Here the project decides: skops only, with skops' default trusted types
(scikit-learn, NumPy, SciPy) plus the task's ``TRUSTED_TYPES``; anything else is refused.
"""

from pathlib import Path
from typing import Any

import skops.io
from mlflow.models import Model

from . import task

# Types a model of this project may contain beyond those skops trusts by default: the
# task's estimator decides them. An estimator from another library needs its types listed
# in `task.TRUSTED_TYPES`, once you have checked them: `skops.io.get_untrusted_types(file=...)`
# names them.
TRUSTED_TYPES: tuple[str, ...] = task.TRUSTED_TYPES

SKOPS_FORMAT = "skops"


class UnsafeModelError(ValueError):
    """The folder does not hold a model in the one form this project loads safely."""


def load_estimator(model_dir: Path) -> Any:
    """Return the scikit-learn estimator saved in `model_dir` by training.

    Raises `FileNotFoundError` when there is no model, and `UnsafeModelError` when the
    model is not a skops file or contains types outside skops' defaults and
    `TRUSTED_TYPES`; nothing from the folder is run in either case.
    """
    if not (model_dir / "MLmodel").is_file():
        msg = f"no model in {model_dir}: it has no MLmodel file"
        raise FileNotFoundError(msg)
    flavor = Model.load(model_dir).flavors.get("sklearn")
    if flavor is None:
        msg = f"{model_dir} holds no scikit-learn model"
        raise UnsafeModelError(msg)
    serialization_format = flavor.get("serialization_format")
    if serialization_format != SKOPS_FORMAT:
        msg = (
            f"{model_dir} is saved as {serialization_format!r}, which can run arbitrary code "
            f"when loaded; only {SKOPS_FORMAT!r} models are loaded"
        )
        raise UnsafeModelError(msg)
    model_file = (model_dir / str(flavor.get("pickled_model", ""))).resolve()
    if not model_file.is_relative_to(model_dir.resolve()) or not model_file.is_file():
        msg = f"{model_dir}'s MLmodel names no model file inside the folder"
        raise UnsafeModelError(msg)
    # Checked before loading, so the error names every type at once; skops would refuse
    # them too, but one at a time.
    untrusted = sorted(set(skops.io.get_untrusted_types(file=model_file)) - set(TRUSTED_TYPES))
    if untrusted:
        msg = (
            f"{model_file} contains types this project does not trust: {', '.join(untrusted)}; "
            "add them to TRUSTED_TYPES in task.py only if you trust their code"
        )
        raise UnsafeModelError(msg)
    return skops.io.load(model_file, trusted=list(TRUSTED_TYPES))
