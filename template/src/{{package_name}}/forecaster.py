"""Forecasters of one monthly series, as scikit-learn estimators, and their backtest.

`LagForecaster` is the model: a scikit-learn regressor that predicts next month's change
from the series' own recent values (its lags) and the calendar month, applied again and
again to forecast several months ahead (recursive multi-step forecasting). It keeps the
series it was fitted on, so it forecasts from where the series ends. FORECASTING.md says
why this forecaster and not another.

`SeasonalNaiveForecaster` is the baseline every forecaster must beat: each month as it
was a year earlier. `backtest` forecasts from several origins with both, each fitted only
on the months before its origin.

Both are saved with skops like any scikit-learn model; their types are listed in
`task.TRUSTED_TYPES`, so loading a model builds them from their stored values and runs
none of the model file's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin, clone

from .schema import MONTHS_PER_YEAR, month_name, month_number

# The last twelve months, and the same month two years back.
LAGS: tuple[int, ...] = (*range(1, MONTHS_PER_YEAR + 1), 2 * MONTHS_PER_YEAR)


def _numbers(months: Any) -> npt.NDArray[np.int64]:
    """Months written YYYY-MM (a column of a frame, or any sequence) as month numbers."""
    return np.array([month_number(str(month)) for month in np.asarray(months).ravel()])


def _consecutive(numbers: npt.NDArray[np.int64]) -> None:
    if len(numbers) and not np.all(np.diff(numbers) == 1):
        msg = "the months must follow each other, each once, with none missing"
        raise ValueError(msg)


# scikit-learn ships no type information, so its base classes are `Any` to mypy.
class MonthlyForecaster(BaseEstimator):  # type: ignore[misc]
    """What every forecaster here shares: it remembers the series it was fitted on, and
    forecasts any months after its end.

    Fitted, it has `history_` (the values, one per month), `first_month_` and
    `last_month_` (YYYY-MM).
    """

    history_: npt.NDArray[np.float64]
    first_month_: str
    last_month_: str

    def _remember(self, months: Any, values: Any) -> npt.NDArray[np.float64]:
        numbers = _numbers(months)
        _consecutive(numbers)
        series = np.asarray(values, dtype=np.float64).ravel()
        if len(series) != len(numbers) or not len(series):
            msg = f"{len(numbers)} months and {len(series)} values: expected a value per month"
            raise ValueError(msg)
        self.history_ = series.copy()
        self.first_month_ = month_name(int(numbers[0]))
        self.last_month_ = month_name(int(numbers[-1]))
        return self.history_

    def forecast(self, horizon: int) -> npt.NDArray[np.float64]:
        """The values of the `horizon` months after the last one fitted on."""
        raise NotImplementedError

    def months_ahead(self, horizon: int) -> list[str]:
        """The `horizon` months after the last one fitted on, written YYYY-MM."""
        last = month_number(self.last_month_)
        return [month_name(last + step) for step in range(1, horizon + 1)]

    def steps(self, months: Any) -> npt.NDArray[np.int64]:
        """How many months after the last one fitted on each of `months` is.

        Raises `ValueError` for a month that is not after it: the series has it already.
        """
        steps = _numbers(months) - month_number(self.last_month_)
        if len(steps) and steps.min() < 1:
            first = month_name(month_number(self.last_month_) + int(steps.min()))
            msg = (
                f"{first} is not after {self.last_month_}, the last month of the series the "
                "model was fitted on: it forecasts later months only"
            )
            raise ValueError(msg)
        return steps

    def predict(self, X: Any) -> npt.NDArray[np.float64]:
        """The forecast of each month in `X` (one column of months written YYYY-MM)."""
        steps = self.steps(X)
        if not len(steps):
            return np.empty(0)
        return self.forecast(int(steps.max()))[steps - 1]


class LagForecaster(RegressorMixin, MonthlyForecaster):  # type: ignore[misc]
    """A scikit-learn `regressor` on the series' lags and the calendar month, forecasting
    recursively.

    Each month's change from the month before is predicted from the values `lags` months
    back and from which month of the year it is; a forecast further ahead feeds the
    forecasts before it back in as lags. Predicting the change rather than the level lets
    a linear model follow a trend beyond the values it was fitted on.
    """

    def __init__(self, regressor: Any, lags: Sequence[int] = LAGS) -> None:
        self.regressor = regressor
        self.lags = lags

    def _features(self, values: npt.NDArray[np.float64], numbers: npt.NDArray[np.int64]) -> Any:
        """The inputs for predicting the months `numbers`, the last len(numbers) of `values`.

        A row per month: its lags, then a one-hot of its month of the year.
        """
        end = len(values)
        start = end - len(numbers)
        lags = [values[start - lag : end - lag] for lag in self.lags]
        calendar = np.eye(MONTHS_PER_YEAR)[numbers % MONTHS_PER_YEAR]
        return np.column_stack([*lags, calendar])

    def fit(self, X: Any, y: Any) -> LagForecaster:
        """Fit on a series: `X` its months (YYYY-MM, consecutive), `y` a value for each."""
        values = self._remember(X, y)
        span = max(self.lags)
        if len(values) < span + MONTHS_PER_YEAR:
            msg = f"{len(values)} months are too few: the lags need {span + MONTHS_PER_YEAR}"
            raise ValueError(msg)
        numbers = _numbers(X)[span:]
        self.regressor_ = clone(self.regressor).fit(
            self._features(values, numbers), values[span:] - values[span - 1 : -1]
        )
        return self

    def forecast(self, horizon: int) -> npt.NDArray[np.float64]:
        series = list(self.history_[-max(self.lags) :])
        last = month_number(self.last_month_)
        for step in range(1, horizon + 1):
            values = np.array([*series, np.nan])
            row = self._features(values, np.array([last + step]))
            series.append(series[-1] + float(self.regressor_.predict(row)[0]))
        return np.array(series[len(series) - horizon :], dtype=np.float64)


class SeasonalNaiveForecaster(MonthlyForecaster):
    """The seasonal-naive forecast: each month as the same month a year before."""

    def fit(self, X: Any, y: Any) -> SeasonalNaiveForecaster:
        values = self._remember(X, y)
        if len(values) < MONTHS_PER_YEAR:
            msg = f"{len(values)} months are too few: a seasonal-naive forecast needs a year"
            raise ValueError(msg)
        return self

    def forecast(self, horizon: int) -> npt.NDArray[np.float64]:
        last_year = self.history_[-MONTHS_PER_YEAR:]
        return np.array([last_year[step % MONTHS_PER_YEAR] for step in range(horizon)])


@dataclass(frozen=True)
class OriginForecast:
    """A backtest forecast: from which origin, what came, and what each forecaster said.

    `scale` is the seasonal-naive forecast's mean absolute error within the months before
    the origin, which MASE divides the errors by.
    """

    last_observed: str
    actual: npt.NDArray[np.float64]
    forecast: npt.NDArray[np.float64]
    seasonal_naive: npt.NDArray[np.float64]
    scale: float


def seasonal_naive_scale(past: npt.NDArray[np.float64]) -> float:
    """The seasonal-naive forecast's mean absolute error within `past` (each month against
    the same month a year before): what MASE divides a forecast's errors by."""
    return float(np.mean(np.abs(past[MONTHS_PER_YEAR:] - past[:-MONTHS_PER_YEAR])))


def backtest(model: MonthlyForecaster, first: str, horizon: int) -> list[OriginForecast]:
    """Forecast `horizon` months from rolling origins, with a clone of `model` refitted on
    the months before each origin, and with the seasonal-naive forecast.

    `model` is fitted on the whole series; the origins are its months from `first` on,
    `horizon` apart, as long as the months forecast from them are in the series.
    """
    values = model.history_
    numbers = np.arange(month_number(model.first_month_), month_number(model.last_month_) + 1)
    months = [month_name(int(number)) for number in numbers]
    start = month_number(first) - int(numbers[0])
    forecasts = []
    for origin in range(start, len(values) - horizon + 1, horizon):
        past_months, past = months[:origin], values[:origin]
        fitted = clone(model).fit(past_months, past)
        naive = SeasonalNaiveForecaster().fit(past_months, past)
        forecasts.append(
            OriginForecast(
                last_observed=past_months[-1],
                actual=values[origin : origin + horizon],
                forecast=fitted.forecast(horizon),
                seasonal_naive=naive.forecast(horizon),
                scale=seasonal_naive_scale(past),
            )
        )
    return forecasts
