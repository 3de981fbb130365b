"""Forecasting baselines and errors, in NumPy: what a learned forecaster has to beat.

All work on windows: ``inputs`` (M, window), the last ``window`` values before each forecast origin (oldest
first), and give ``(M, horizon)`` forecasts of the next ``horizon`` values.

* naive:           x_hat_{t+k-1} = x_{t-1} for every lead k = 1..horizon (the last value repeated; the
                   best forecast of a random walk).
* seasonal naive:  x_hat_{t+k-1} = x_{t+k-1-m}, the value one period ``m`` earlier (needs k <= m <= window).
* AR(p), direct:   one least-squares fit per lead k on the training windows,
                   x_hat_{t+k-1} = c_k + sum_{i=1..p} a_{k,i} x_{t-i},
                   i.e. ``[1, x_{t-1}, ..., x_{t-p}] @ W`` with W (p + 1, horizon) = argmin ||X W - Y||^2
                   (``numpy.linalg.lstsq``, all leads at once).  Direct rather than iterated: each lead gets
                   the linear predictor that is best for it, and no error is fed back into later steps.  The
                   order p is chosen on the validation windows (``select_ar_order``).
* errors by lead:  RMSE_k = sqrt(mean_i (x_hat_ik - x_ik)^2), MAE_k = mean_i |x_hat_ik - x_ik| over the
                   windows whose target at lead k is known (NaN targets are left out).
"""
from __future__ import annotations

import numpy as np

__all__ = ["naive_forecast", "seasonal_naive_forecast", "AutoRegressive", "select_ar_order", "errors_by_lead",
           "default_leads"]


def _inputs(inputs, who: str) -> np.ndarray:
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"{who}: inputs must be (windows, window) with window >= 1, got shape {x.shape}")
    return x


def naive_forecast(inputs, horizon: int) -> np.ndarray:
    """The last input value repeated ``horizon`` times: (M, window) -> (M, horizon)."""
    x = _inputs(inputs, "naive_forecast")
    return np.repeat(x[:, -1:], int(horizon), axis=1)


def seasonal_naive_forecast(inputs, horizon: int, period: int) -> np.ndarray:
    """The value one ``period`` before each target: lead k (1-based) reads ``inputs[:, window - period + k - 1]``."""
    x = _inputs(inputs, "seasonal_naive_forecast")
    if not 1 <= horizon <= period <= x.shape[1]:
        raise ValueError(f"seasonal_naive_forecast: needs horizon <= period <= window, got horizon {horizon}, "
                         f"period {period}, window {x.shape[1]}")
    start = x.shape[1] - period
    return x[:, start:start + horizon].copy()


class AutoRegressive:
    """A linear AR(p) forecaster, direct multi-step: one least-squares fit per lead (see the module docstring).

    ``AutoRegressive(order).fit(inputs, targets)`` with inputs (M, window >= order) and targets (M, horizon);
    ``coef_`` (horizon, order) holds a_{k,i} (column i-1: the weight of x_{t-i}), ``intercept_`` (horizon,)."""

    def __init__(self, order: int):
        if int(order) < 1:
            raise ValueError(f"AutoRegressive: order must be >= 1, got {order}")
        self.order = int(order)
        self.coef_ = self.intercept_ = None

    def _design(self, inputs) -> np.ndarray:
        x = _inputs(inputs, "AutoRegressive")
        if x.shape[1] < self.order:
            raise ValueError(f"AutoRegressive: order {self.order} needs windows of at least {self.order} values, "
                             f"got {x.shape[1]}")
        lags = x[:, ::-1][:, :self.order]               # x_{t-1}, ..., x_{t-p}
        return np.concatenate([np.ones((len(x), 1)), lags], axis=1)

    def fit(self, inputs, targets) -> "AutoRegressive":
        X, Y = self._design(inputs), np.asarray(targets, dtype=np.float64)
        if Y.ndim != 2 or len(Y) != len(X) or not np.isfinite(Y).all():
            raise ValueError(f"AutoRegressive.fit: targets must be finite (windows, horizon) with {len(X)} rows, "
                             f"got shape {Y.shape}")
        if len(X) <= self.order:
            raise ValueError(f"AutoRegressive.fit: {len(X)} windows cannot fit {self.order + 1} coefficients")
        W = np.linalg.lstsq(X, Y, rcond=None)[0]          # (order + 1, horizon)
        self.intercept_, self.coef_ = W[0], W[1:].T
        return self

    def predict(self, inputs) -> np.ndarray:
        if self.coef_ is None:
            raise ValueError("AutoRegressive.predict: call fit first")
        return self._design(inputs) @ np.concatenate([self.intercept_[None], self.coef_.T])


def select_ar_order(train: tuple, valid: tuple, orders) -> tuple:
    """``(model, validation MSE per order)``: AR(p) fitted on ``train = (inputs, targets)`` for each p in
    ``orders``, the one with the lowest mean squared error over all leads of ``valid`` refitted and returned."""
    scores = {}
    for p in orders:
        pred = AutoRegressive(p).fit(*train).predict(valid[0])
        scores[int(p)] = float(np.nanmean((pred - valid[1]) ** 2))
    best = min(scores, key=scores.get)
    return AutoRegressive(best).fit(*train), scores


def errors_by_lead(forecast, target, leads) -> dict:
    """``{"rmse": [...], "mae": [...], "count": [...]}`` at each lead in ``leads`` (1-based), NaN targets
    left out."""
    f, y = np.asarray(forecast, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if f.shape != y.shape:
        raise ValueError(f"errors_by_lead: forecast {f.shape} and target {y.shape} differ in shape")
    out = {"rmse": [], "mae": [], "count": []}
    for k in leads:
        if not 1 <= k <= y.shape[1]:
            raise ValueError(f"errors_by_lead: lead {k} is outside 1..{y.shape[1]}")
        ok = np.isfinite(y[:, k - 1])
        err = f[ok, k - 1] - y[ok, k - 1]
        out["rmse"].append(float(np.sqrt(np.mean(err ** 2))) if ok.any() else float("nan"))
        out["mae"].append(float(np.mean(np.abs(err))) if ok.any() else float("nan"))
        out["count"].append(int(ok.sum()))
    return out


def default_leads(horizon: int) -> list:
    """The leads a report shows: 1, 3, 6, 12, 24, 52 up to ``horizon``, and ``horizon`` itself."""
    return sorted({k for k in (1, 3, 6, 12, 24, 52) if k <= horizon} | {int(horizon)})
