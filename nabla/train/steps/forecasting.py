"""The forecasting step: a regression step on ``(window, next values)`` batches of a standardised series.

Training minimises the mean squared error over all leads in standardised units,
``L = mean_{b,k} (x_hat_bk - x_bk)^2``; the logs add the RMSE in the series' own units,
``rmse = sqrt(L) * std`` (``std``: the training part's, which the data set scaled by), so that the progress
line reads in sunspots or ppm.  ``forecast(inputs)`` maps windows in the series' units to forecasts in them.
"""
from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from .classification import RegressionStep

__all__ = ["ForecastStep"]


class ForecastStep(RegressionStep):
    """``ForecastStep(model, optimizer, mean, std)``: MSE on standardised values; ``rmse`` in the series' units."""

    def __init__(self, model, optimizer, mean: float, std: float, loss_fn=None):
        if not std > 0:
            raise ValueError(f"ForecastStep: the series' standard deviation must be positive, got {std}")
        self.mean, self.std = float(mean), float(std)

        def rmse(scores, targets) -> float:
            return float(np.sqrt(np.mean((np.asarray(scores) - np.asarray(targets)) ** 2)) * self.std)
        super().__init__(model, optimizer, loss_fn=loss_fn, metrics=[rmse])

    def forecast(self, inputs, batch_size: int = 1024) -> np.ndarray:
        """Windows (M, window) in the series' units -> forecasts (M, horizon) in them (eval mode, no graph)."""
        z = ((np.asarray(inputs, dtype=np.float64) - self.mean) / self.std).astype(np.float32)[..., None]

        def run():
            outs = [self.model(Tensor(z[i:i + batch_size])).data for i in range(0, len(z), batch_size)]
            return np.concatenate(outs) if outs else np.zeros((0, getattr(self.model, "horizon", 0)))
        return self.run_eval(run).astype(np.float64) * self.std + self.mean
