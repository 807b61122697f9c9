"""How a model is judged: its test metrics, each better higher or lower, and thresholds.

The metrics themselves, and which of them the evaluation gate holds to a threshold, are
the task's (`task.METRICS`, `task.gate`); this module says what a metric and a threshold
are, whatever the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Test metrics are logged to MLflow under their name with this prefix: ``test_<name>``.
TEST_PREFIX = "test_"


@dataclass(frozen=True)
class Metric:
    """A metric of the model on held-out data, and whether more of it is better."""

    name: str
    higher_is_better: bool

    @property
    def logged_as(self) -> str:
        """The name the metric's value on the test split is logged under."""
        return f"{TEST_PREFIX}{self.name}"


@dataclass(frozen=True)
class Threshold:
    """A bound a metric must stay on the good side of: at least it when more is better,
    at most it when less is better (an error, a loss)."""

    metric: Metric
    bound: float

    @property
    def direction(self) -> str:
        return "at least" if self.metric.higher_is_better else "at most"

    def admits(self, value: float) -> bool:
        """Whether `value` is on the good side of the bound (the bound itself included)."""
        if self.metric.higher_is_better:
            return value >= self.bound
        return value <= self.bound

    def __str__(self) -> str:
        return f"{self.direction} {self.bound:g}"


@dataclass(frozen=True)
class Table:
    """A table for the model card: a caption, the column headings and the rows."""

    caption: str
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
