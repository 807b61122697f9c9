"""The data contract: the features, their plausible ranges and the target.

This module is the one place that defines the features: loading, training and every
place that accepts records to predict on read them from here.
"""

import json
from dataclasses import dataclass
from typing import Any

import pandera.pandas as pa


@dataclass(frozen=True)
class Feature:
    """One input column of the model, with the range a real measurement falls in.

    `example` is a typical value: the API documentation, the example request and the
    tests use it.
    """

    name: str
    description: str
    minimum: float
    maximum: float
    example: float


# The 13 chemical measurements of the wine dataset (UCI Wine, three cultivars grown in
# the same region of Italy). The ranges are wider than the values seen in the data but
# tight enough to catch a wrong unit or a typing error.
FEATURES: tuple[Feature, ...] = (
    Feature("alcohol", "Alcohol content (% by volume)", 8.0, 18.0, 13.2),
    Feature("malic_acid", "Malic acid (g/l)", 0.0, 10.0, 1.78),
    Feature("ash", "Ash (g/l)", 0.5, 5.0, 2.14),
    Feature("alcalinity_of_ash", "Alcalinity of ash (meq/l)", 5.0, 40.0, 11.2),
    Feature("magnesium", "Magnesium (mg/l)", 50.0, 200.0, 100.0),
    Feature("total_phenols", "Total phenols (g/l)", 0.0, 6.0, 2.65),
    Feature("flavanoids", "Flavanoids (g/l)", 0.0, 7.0, 2.76),
    Feature("nonflavanoid_phenols", "Nonflavanoid phenols (g/l)", 0.0, 1.5, 0.26),
    Feature("proanthocyanins", "Proanthocyanins (g/l)", 0.0, 5.0, 1.28),
    Feature("color_intensity", "Colour intensity (absorbance)", 0.5, 20.0, 4.38),
    Feature("hue", "Hue (absorbance ratio 520/420 nm)", 0.2, 3.0, 1.05),
    Feature("od280_od315_of_diluted_wines", "OD280/OD315 of diluted wines", 0.5, 5.0, 3.4),
    Feature("proline", "Proline (mg/l)", 100.0, 3000.0, 1050.0),
)
FEATURE_COLUMNS: tuple[str, ...] = tuple(feature.name for feature in FEATURES)

TARGET_COLUMN = "cultivar"
CLASSES: tuple[int, ...] = (0, 1, 2)

# Validates the inputs of the model. Columns must be exactly the features, in order;
# numbers are coerced to floats and every value must be present and in range.
FEATURE_SCHEMA = pa.DataFrameSchema(
    {
        feature.name: pa.Column(
            float,
            pa.Check.in_range(feature.minimum, feature.maximum),
            description=feature.description,
        )
        for feature in FEATURES
    },
    strict=True,
    ordered=True,
    coerce=True,
    name="features",
)

# Validates labelled data: the features plus a known class for every row, and every
# class present so that a model trained on it can predict all of them.
DATASET_SCHEMA = pa.DataFrameSchema(
    {
        **FEATURE_SCHEMA.columns,
        TARGET_COLUMN: pa.Column(
            int,
            pa.Check.isin(CLASSES),
            description="Cultivar of the grapes the wine was made from",
        ),
    },
    checks=pa.Check(
        lambda frame: set(frame[TARGET_COLUMN]) == set(CLASSES),
        error=f"every class of {CLASSES} must be present",
    ),
    strict=True,
    ordered=True,
    coerce=True,
    name="dataset",
)

# The most characters a JSON encoder needs for one number: a sign, 17 significant digits,
# a decimal point and an exponent, as in -1.2345678901234567e-100.
MAX_NUMBER_CHARS = 24
# Room around each field of a pretty-printed record: colon, comma, line break and
# indentation.
FIELD_PADDING_CHARS = 24


def example_record() -> dict[str, float]:
    """A record with every feature at its example value."""
    return {feature.name: feature.example for feature in FEATURES}


def example_request() -> dict[str, Any]:
    """The body of a prediction request for one record, as the API, CLI and README show it."""
    return {"records": [example_record()]}


def max_record_bytes() -> int:
    """The longest a valid record can be as JSON text, pretty-printed or not.

    Request size limits derive from it, so that they follow the features.
    """
    fields = sum(
        # A name as JSON at its longest: quoted, with any non-ASCII character escaped.
        len(json.dumps(feature.name)) + MAX_NUMBER_CHARS + FIELD_PADDING_CHARS
        for feature in FEATURES
    )
    return fields + FIELD_PADDING_CHARS  # the braces, on lines of their own
