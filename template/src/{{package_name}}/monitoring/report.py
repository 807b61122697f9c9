"""The drift report: Evidently's comparison of the window with the reference.

Evidently's data drift preset tests each compared column on its own, with a test suited
to the column's kind and size (for numbers, the Kolmogorov-Smirnov test while the
reference has at most 1,000 rows, a distance between the distributions beyond; for
categories, a chi-squared or proportions test), and counts the share of columns that
drifted. The report is written as HTML, to read, and as JSON, for other programs; the
drift it found is returned.

This is the one module that imports Evidently, which takes seconds.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from .columns import CATEGORICAL, NUMERICAL
from .verdict import Drift

HTML_REPORT = "drift.html"
JSON_REPORT = "drift.json"
# How Evidently's JSON names the share of drifted columns, each column's drift test and
# a failed test.
DRIFTED_COLUMNS_METRIC = "evidently:metric_v2:DriftedColumnsCount"
COLUMN_DRIFT_METRIC = "evidently:metric_v2:ValueDrift"
FAILED = "FAIL"
NOTHING_COMPARED_HTML = (
    "<!DOCTYPE html>\n<title>Drift</title>\n<p>No column had values to compare.</p>\n"
)


def compare(
    reference: pd.DataFrame, window: pd.DataFrame, drift_share: float, folder: Path
) -> Drift:
    """Compare the window's columns with the reference's; write the report into `folder`.

    `drift_share` is the share of drifted columns at which the report calls the whole
    window drifted. A column without a single value in the window (see `quality`) cannot
    be compared and is left out.
    """
    compared = [column for column in (*NUMERICAL, *CATEGORICAL) if window[column].notna().any()]
    folder.mkdir(parents=True, exist_ok=True)
    if not compared:
        # Nothing has a value to compare yet (a forecast's actuals have not arrived):
        # nothing drifted, and the reports say so.
        (folder / HTML_REPORT).write_text(NOTHING_COMPARED_HTML, encoding="utf-8")
        (folder / JSON_REPORT).write_text(
            json.dumps({"metrics": [], "tests": []}), encoding="utf-8"
        )
        return Drift(compared=[], drifted=[], share=0.0)
    definition = DataDefinition(
        numerical_columns=[column for column in NUMERICAL if column in compared],
        categorical_columns=[column for column in CATEGORICAL if column in compared],
    )
    report = Report([DataDriftPreset(drift_share=drift_share)], include_tests=True)
    with warnings.catch_warnings():
        # A column with a single value in the window (a two-valued feature all one way)
        # makes SciPy's tests divide by zero on their way to a p-value of 0: drift, rightly.
        warnings.filterwarnings("ignore", "divide by zero", RuntimeWarning, "scipy")
        snapshot = report.run(
            current_data=Dataset.from_pandas(window.loc[:, compared], data_definition=definition),
            reference_data=Dataset.from_pandas(
                reference.loc[:, compared], data_definition=definition
            ),
        )
    snapshot.save_html(str(folder / HTML_REPORT))
    snapshot.save_json(str(folder / JSON_REPORT))
    return read_drift(json.loads(snapshot.json()), compared)


def read_drift(report: dict[str, Any], compared: list[str]) -> Drift:
    """The drift an Evidently report (as JSON) found among the `compared` columns."""
    share = next(
        metric["value"]["share"]
        for metric in report["metrics"]
        if metric["config"]["type"] == DRIFTED_COLUMNS_METRIC
    )
    failed = {
        test["metric_config"]["params"]["column"]
        for test in report["tests"]
        if test["metric_config"]["params"]["type"] == COLUMN_DRIFT_METRIC
        and test["status"] == FAILED
    }
    return Drift(
        compared=compared,
        drifted=[column for column in compared if column in failed],
        share=float(share),
    )
