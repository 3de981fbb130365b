"""The forecasting step: a regression step on ``(window, next values)`` batches of a standardised series.

Training minimises the mean squared error over all leads in standardised units,
``L = mean_{b,k} (x_hat_bk - x_bk)^2``; the logs add the RMSE in the series' own units,
``rmse = sqrt(L) * std`` (``std``: the training part's, which the data set scaled by), so that the progress
line reads in sunspots or ppm.  ``forecast(inputs)`` maps windows in the series' units to forecasts in them.

Evaluation goes through sums that add over shards of the windows (``evaluate_sums``: the summed loss and the
window count, the summed squared error and the value count), so a data-parallel validation, each rank
scoring a contiguous share, gives one process's ``loss`` and ``rmse = sqrt(sum e^2 / count) * std``: sums
of squares combined, never a mean of the ranks' RMSEs.
"""
from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from .classification import RegressionStep, _tensor
from .sharding import add_counts, evaluation_share

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

    def evaluate(self, loader) -> dict:
        """Mean loss and the RMSE in the series' units over all of ``loader`` (eval mode, no graph)."""
        return self.figures_from_sums(self.evaluate_sums(loader))

    def evaluate_sums(self, loader, rank: int = 0, num_replicas: int = 1) -> dict:
        """``{"loss_sum", "n", "sq_sum", "count"}`` over rank's contiguous share of ``loader``'s windows."""
        if num_replicas > 1:
            loader = evaluation_share(loader, rank, num_replicas, "ForecastStep.evaluate_sums")
        return self.run_eval(self._sums, loader)

    def _sums(self, loader) -> dict:
        sums = {"loss_sum": 0.0, "n": 0, "sq_sum": 0.0, "count": 0}
        for batch in loader:
            x, y = _tensor(batch[0]), _tensor(batch[1])
            out = self.model(x)
            sums["loss_sum"] += float(self.loss_fn(out, y).item()) * len(y)
            sums["n"] += len(y)
            err = np.asarray(out.data, dtype=np.float64) - np.asarray(y.data, dtype=np.float64)
            sums["sq_sum"] += float(np.sum(err * err))
            sums["count"] += err.size
        return sums

    add_sums = staticmethod(add_counts)

    def figures_from_sums(self, sums: dict) -> dict:
        """``loss = loss_sum / n``; ``rmse = sqrt(sq_sum / count) * std`` (none without windows)."""
        if not sums["n"]:
            return {"loss": 0.0}
        return {"loss": sums["loss_sum"] / sums["n"], "rmse": float(np.sqrt(sums["sq_sum"] / sums["count"]) * self.std)}

    def forecast(self, inputs, batch_size: int = 1024) -> np.ndarray:
        """Windows (M, window) in the series' units -> forecasts (M, horizon) in them (eval mode, no graph)."""
        z = ((np.asarray(inputs, dtype=np.float64) - self.mean) / self.std).astype(np.float32)[..., None]

        def run():
            outs = [self.model(Tensor(z[i:i + batch_size])).data for i in range(0, len(z), batch_size)]
            return np.concatenate(outs) if outs else np.zeros((0, getattr(self.model, "horizon", 0)))
        return self.run_eval(run).astype(np.float64) * self.std + self.mean
