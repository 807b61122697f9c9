"""The data contract: the features, their plausible ranges and the target.

This module is the one place that defines the features: loading, training and every
place that accepts records to predict on read them from here.
"""

from dataclasses import dataclass

import pandera.pandas as pa


@dataclass(frozen=True)
class Feature:
    """One input column of the model, with the range a real measurement falls in."""

    name: str
    description: str
    minimum: float
    maximum: float


# The 13 chemical measurements of the wine dataset (UCI Wine, three cultivars grown in
# the same region of Italy). The ranges are wider than the values seen in the data but
# tight enough to catch a wrong unit or a typing error.
FEATURES: tuple[Feature, ...] = (
    Feature("alcohol", "Alcohol content (% by volume)", 8.0, 18.0),
    Feature("malic_acid", "Malic acid (g/l)", 0.0, 10.0),
    Feature("ash", "Ash (g/l)", 0.5, 5.0),
    Feature("alcalinity_of_ash", "Alcalinity of ash (meq/l)", 5.0, 40.0),
    Feature("magnesium", "Magnesium (mg/l)", 50.0, 200.0),
    Feature("total_phenols", "Total phenols (g/l)", 0.0, 6.0),
    Feature("flavanoids", "Flavanoids (g/l)", 0.0, 7.0),
    Feature("nonflavanoid_phenols", "Nonflavanoid phenols (g/l)", 0.0, 1.5),
    Feature("proanthocyanins", "Proanthocyanins (g/l)", 0.0, 5.0),
    Feature("color_intensity", "Colour intensity (absorbance)", 0.5, 20.0),
    Feature("hue", "Hue (absorbance ratio 520/420 nm)", 0.2, 3.0),
    Feature("od280_od315_of_diluted_wines", "OD280/OD315 of diluted wines", 0.5, 5.0),
    Feature("proline", "Proline (mg/l)", 100.0, 3000.0),
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
