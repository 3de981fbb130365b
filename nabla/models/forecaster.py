"""A recurrent forecaster: the last ``window`` values of a series in, the next ``horizon`` values out.

Direct multi-step output, relative to the last observed value (the naive forecast):

    z_i = x_i - x_T                                  (the window seen relative to its last value, i = 1..T)
    h_T = RNN(z_1, ..., z_T)                          (LSTM or GRU, ``layers`` deep, ``hidden`` units: the
                                                       last layer's state after the last step)
    x_hat_{T+k} = x_T + (W h_T + b)_k + (A z)_k,      k = 1..horizon

The network learns a correction to the naive forecast: with zero heads it *is* the naive forecast, and a
series whose level drifts out of the training range (CO2's trend) still gives inputs of the kind it was
trained on.  ``A z`` (A: horizon x T, no bias) is a linear autoregressive skip from the window straight to the
output -- LSTNet's "highway" (Lai et al. 2018): the linear part of the forecast need not squeeze through the
recurrent state, which on a few hundred training windows (sunspots) cuts the test error by about a third.
``skip=False`` leaves it out (the last hidden state alone feeds the output).

Inputs (B, T, 1) are the standardised series (nabla.data.datasets.series); the output is (B, horizon) in the
same units.  Registered as ``lstm-forecaster`` (``--set cell=gru`` for a GRU).
"""
from __future__ import annotations

from .. import nn
from .registry import Option, register_model

__all__ = ["RNNForecaster"]

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RNNForecaster(nn.Module):
    """``RNNForecaster(window, horizon, cell="lstm", hidden_size=32, num_layers=1, skip=True, dropout=0.0)``:
    ``forward(x (B, window, 1)) -> (B, horizon)``."""

    def __init__(self, window: int, horizon: int, cell: str = "lstm", hidden_size: int = 32, num_layers: int = 1,
                 skip: bool = True, dropout: float = 0.0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"RNNForecaster: unknown cell {cell!r}; choose from {sorted(CELLS)}")
        if window < 1 or horizon < 1:
            raise ValueError(f"RNNForecaster: window and horizon must be >= 1, got window={window}, "
                             f"horizon={horizon}")
        self.window, self.horizon, self.cell = int(window), int(horizon), cell
        # time-major inside: the fused layers run (T, B, F)
        self.rnn = CELLS[cell](1, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, self.horizon)
        self.skip = nn.Linear(self.window, self.horizon, bias=False) if skip else None

    def forward(self, x):
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.window, 1):
            raise ValueError(f"RNNForecaster: expected inputs (batch, {self.window}, 1), got shape {tuple(x.shape)}")
        last = x[:, -1:, :]                              # (B, 1, 1): the naive forecast's value
        z = x - last
        out, _ = self.rnn(z.transpose(0, 1))             # (T, B, H)
        y = last[:, :, 0] + self.head(out[-1])           # (B, 1) + (B, horizon)
        return y if self.skip is None else y + self.skip(z[:, :, 0])

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, window={self.window}, horizon={self.horizon}"


@register_model("lstm-forecaster", "LSTM/GRU forecaster: the last `window` values -> the next `horizon` values "
                "(direct multi-step, relative to the last value, with a linear skip)", task="forecasting",
                default_dataset="sunspots",
                training={"optimizer": "adam", "lr": 3e-3, "batch_size": 32, "epochs": 60, "scheduler": "cosine",
                          "clip": 1.0},
                cell=Option("lstm", str, choices=tuple(CELLS), help="the recurrent cell"),
                hidden=Option(32, int, help="hidden units per layer"),
                layers=Option(1, int, help="stacked recurrent layers"),
                horizon=Option(12, int, help="values forecast at once (steps ahead)"),
                window=Option(0, int, help="input length in steps (0: the series' default, 24 years for "
                                           "sunspots, 104 weeks for co2)"),
                skip=Option(True, bool, help="a linear skip from the window to the output (LSTNet's highway)"),
                dropout=Option(0.0, float, help="dropout between stacked layers"))
def _lstm_forecaster(in_shape, num_classes, cell, hidden, layers, horizon, window, skip, dropout):
    # in_shape is (the series' default window, 1) from the task; the output size is the horizon option
    if window < 0:
        raise ValueError(f"lstm-forecaster: option 'window' must be >= 0 (0: the series' default), got {window}")
    return RNNForecaster(window or int(in_shape[0]), horizon, cell=cell, hidden_size=hidden, num_layers=layers,
                         skip=skip, dropout=dropout)
