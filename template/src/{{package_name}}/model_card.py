"""Write the model card of a registered model version from what its run recorded.

Everything factual on the card (data, parameters, metrics, code version, gate verdict)
is read from MLflow, so the card cannot disagree with the registry. The intended use is
the project's description (pyproject.toml); the limitations are written below and in
`task.LIMITATIONS`: keep them true when the model changes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from mlflow.entities import Run

from . import description, task
from .config import Settings
from .lineage import GIT_COMMIT_TAG, GIT_DIRTY_TAG
from .registry import GATE_DETAILS_TAG, GATE_TAG, served_model
from .request import inputs_table
from .schema import TARGET_COLUMN
from .tracking import find_version, mlflow_client, read_run_json

# Run parameters that describe the data; the card shows them under "Data".
DATA_PARAMS = frozenset(
    {"dataset_name", "dataset_rows", "dataset_digest", "train_rows", "test_rows"}
)

# Shown under "Limitations" for every model, before the task's own (`task.LIMITATIONS`);
# add what you learn about yours.
LIMITATIONS: tuple[str, ...] = (
    "The test metrics come from the test split only (its size is under Data); on a small "
    "split they are uncertain.",
    "Records unlike the training data (other sources, other populations, other ways of "
    "measuring) are outside what the model has seen; its predictions for them mean little.",
    "Inputs outside the ranges of the data contract are refused rather than extrapolated.",
)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _evaluation_details(settings: Settings, run: Run) -> str:
    details = read_run_json(settings, run.info.run_id, task.EVALUATION_ARTIFACT)
    if details is None:
        return f"The run recorded no `{task.EVALUATION_ARTIFACT}`."
    table = task.evaluation_table(details)
    return f"{table.caption}\n\n{_table(table.header, table.rows)}"


def _bullets(lines: tuple[str, ...]) -> str:
    return "\n".join(
        textwrap.fill(line, width=88, initial_indent="- ", subsequent_indent="  ") for line in lines
    )


def _code_version(run: Run) -> str:
    commit = run.data.tags.get(GIT_COMMIT_TAG)
    dirty = run.data.tags.get(GIT_DIRTY_TAG) == "true"
    if commit is None and dirty:
        return "none: trained in a git work tree before its first commit"
    if commit is None:
        return "unknown: not trained inside a git work tree"
    if dirty:
        return f"`{commit}`, with uncommitted changes"
    return f"`{commit}`"


def build_model_card(settings: Settings, version: str | None = None) -> str:
    """The model card of `version`, or of the version the serving alias points at."""
    model_version = find_version(settings, served_model(settings), version)
    run = mlflow_client(settings).get_run(str(model_version.run_id))
    params = run.data.params
    metrics = run.data.metrics
    trained = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)
    aliases = ", ".join(f"`{alias}`" for alias in model_version.aliases) or "none"
    gate = model_version.tags.get(GATE_TAG, "not checked")
    gate_details = model_version.tags.get(GATE_DETAILS_TAG, "").split("; ")

    overview = _table(
        ("", ""),
        [
            ("Registered model", f"`{model_version.name}`, version {model_version.version}"),
            ("Aliases", aliases),
            ("Training run", f"`{run.info.run_id}`"),
            ("Trained", trained.strftime("%Y-%m-%d %H:%M UTC")),
            ("Code version", _code_version(run)),
            ("Evaluation gate", gate),
        ],
    )
    data = _table(
        ("", ""),
        [
            ("Dataset", f"`{params.get('dataset_name', 'unknown')}`"),
            ("Rows", params.get("dataset_rows", "unknown")),
            ("Training rows", params.get("train_rows", "unknown")),
            ("Test rows", params.get("test_rows", "unknown")),
            ("Content digest (SHA-256)", f"`{params.get('dataset_digest', 'unknown')}`"),
            ("Target", f"`{TARGET_COLUMN}`"),
        ],
    )
    inputs = inputs_table()
    better = {
        metric.logged_as: "higher" if metric.higher_is_better else "lower"
        for metric in task.METRICS
    }
    evaluation = _table(
        ("Metric (test split)", "Value", "Better"),
        [
            (f"`{name}`", f"{value:.4f}", better.get(name, ""))
            for name, value in sorted(metrics.items())
        ],
    )
    parameters = _table(
        ("Parameter", "Value"),
        [
            (f"`{name}`", f"`{value}`")
            for name, value in sorted(params.items())
            if name not in DATA_PARAMS
        ],
    )
    checks = "\n".join(f"- {detail}" for detail in gate_details if detail)

    return f"""\
# Model card: {model_version.name} version {model_version.version}

Written from the MLflow run that trained the model; regenerate it with the
`model-card` command rather than editing it.

{overview}

## Intended use

{description()}

The model is meant for records like those it was trained on, described under Data.

## Data

{data}

{inputs.caption}

{_table(inputs.header, inputs.rows)}

## Evaluation

{evaluation}

{_evaluation_details(settings, run)}

## Evaluation gate: {gate}

{checks or "No gate result was recorded for this version."}

## Limitations

{_bullets(LIMITATIONS + task.LIMITATIONS)}

## Training parameters

{parameters}
"""


def write_model_card(settings: Settings, version: str | None = None) -> Path:
    """Write the model card to `settings.model_card_path` and return that path."""
    path = settings.model_card_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_model_card(settings, version), encoding="utf-8")
    return path
