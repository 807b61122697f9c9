"""Request and response bodies of the prediction API.

The fields of `WineFeatures` are the model's features with the ranges of
`schema.FEATURES`, written out so that the API documentation shows them; a test keeps
the two in step. Values must be finite numbers within those ranges: strings, NaN,
infinities and unknown fields are rejected with a 422 before the model sees them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class WineFeatures(BaseModel):
    """One wine, described by the chemical analysis the model was trained on."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    alcohol: float = Field(ge=8.0, le=18.0, description="Alcohol content (% by volume)")
    malic_acid: float = Field(ge=0.0, le=10.0, description="Malic acid (g/l)")
    ash: float = Field(ge=0.5, le=5.0, description="Ash (g/l)")
    alcalinity_of_ash: float = Field(ge=5.0, le=40.0, description="Alcalinity of ash (meq/l)")
    magnesium: float = Field(ge=50.0, le=200.0, description="Magnesium (mg/l)")
    total_phenols: float = Field(ge=0.0, le=6.0, description="Total phenols (g/l)")
    flavanoids: float = Field(ge=0.0, le=7.0, description="Flavanoids (g/l)")
    nonflavanoid_phenols: float = Field(ge=0.0, le=1.5, description="Nonflavanoid phenols (g/l)")
    proanthocyanins: float = Field(ge=0.0, le=5.0, description="Proanthocyanins (g/l)")
    color_intensity: float = Field(ge=0.5, le=20.0, description="Colour intensity (absorbance)")
    hue: float = Field(ge=0.2, le=3.0, description="Hue (absorbance ratio 520/420 nm)")
    od280_od315_of_diluted_wines: float = Field(
        ge=0.5, le=5.0, description="OD280/OD315 of diluted wines"
    )
    proline: float = Field(ge=100.0, le=3000.0, description="Proline (mg/l)")


EXAMPLE_RECORD: dict[str, JsonValue] = {
    "alcohol": 13.2,
    "malic_acid": 1.78,
    "ash": 2.14,
    "alcalinity_of_ash": 11.2,
    "magnesium": 100.0,
    "total_phenols": 2.65,
    "flavanoids": 2.76,
    "nonflavanoid_phenols": 0.26,
    "proanthocyanins": 1.28,
    "color_intensity": 4.38,
    "hue": 1.05,
    "od280_od315_of_diluted_wines": 3.4,
    "proline": 1050.0,
}


class PredictionRequest(BaseModel):
    """A batch of records to score."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"records": [EXAMPLE_RECORD]}]}
    )

    records: list[WineFeatures] = Field(
        min_length=1,
        description="Records to score, at most MAX_BATCH_SIZE of them (413 beyond that).",
    )


class PredictionResponse(BaseModel):
    """Predictions for a batch, in the order of the request's records."""

    predictions: list[int] = Field(description="Predicted cultivar (class) per record.")
    probabilities: list[list[float]] = Field(
        description="Per record, the probability of each class, in the order of `classes`."
    )
    classes: list[int] = Field(description="The class labels the probabilities refer to.")
    model_version: str = Field(description="Registered version of the model that answered.")


class HealthResponse(BaseModel):
    """Liveness: the process is up."""

    status: str


class ReadinessResponse(BaseModel):
    """Readiness: whether a model is loaded, and which."""

    status: str
    model_version: str | None = None
    model_uri: str | None = None
    detail: str | None = None
