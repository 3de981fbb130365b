"""Time-series forecasting: a model reads the last ``window`` values and forecasts the next ``horizon``.

The series is split by time (70 / 15 / 15 %) and standardised with its training part's mean and std
(nabla.data.datasets.series); the window comes from the model (its ``window`` option, else the series'
default) and the horizon is the model's.  The checkpoint records both and the scaling, so ``nabla eval``
rebuilds the same windows.  The report scores every test step at every lead k = 1..horizon (the forecast
made k steps before it), in the series' own units, for the model and for the baselines of
nabla.metrics.forecasting fitted on the training part only: the naive forecast (last value), the seasonal
naive where the series has a period (co2: the value 52 weeks earlier) and a direct AR(p) whose order is
chosen on the validation part.  With matplotlib, ``forecast.png`` in the run folder shows the test series
with the model's forecasts at lead 1 and at the last lead, and the RMSE of each method against the lead.

Data-parallel (``mpiexec -n N nabla train``): the training windows are each rank's ``DistributedSampler``
shard; validation and the final test loss are sharded and their sums of squares added (``ForecastStep.
evaluate_sums``), so the figures are one process's; the comparison with the baselines and the plot are rank
0's (the weights are the same everywhere), broadcast.
"""
from __future__ import annotations

import os

import numpy as np

from ... import nn
from ...data import DataLoader
from ...data.datasets import get_dataset_class
from ...metrics.forecasting import (default_leads, errors_by_lead, naive_forecast,
                                    seasonal_naive_forecast, select_ar_order)
from ..steps.forecasting import ForecastStep
from .base import RunData, Task, register_task

EVAL_BATCH = 1024


def series_splits(cls, window: int, horizon: int, download: bool) -> dict:
    """``{split: the series' windows}`` for train, valid and test."""
    return {s: cls(split=s, window=window, horizon=horizon, download=download) for s in cls.splits}


def fit_baselines(splits: dict) -> dict:
    """``{name: forecast(inputs) -> (M, horizon)}``: naive, seasonal naive (where the series has a period that
    fits the window), and AR(p) fitted on the training windows with p in 1..window (fewer than the training
    windows) chosen on validation."""
    train, valid = splits["train"], splits["valid"]
    h, w, period = train.horizon, train.window, train.period
    out = {"naive": lambda x: naive_forecast(x, h)}
    if period is not None and h <= period <= w:
        out[f"seasonal naive ({period} {train.step_name}s)"] = lambda x: seasonal_naive_forecast(x, h, period)
    orders = range(1, min(w, len(train) - 2) + 1)  # p + 1 coefficients need more windows than that
    ar, _ = select_ar_order(train.windows(train.origins), valid.windows(valid.origins), orders)
    out[f"AR({ar.order})"] = ar.predict
    return out


def compare(step: ForecastStep, model_name: str, splits: dict) -> dict:
    """Every test step forecast at every lead by the model and by each baseline: the forecasts, the targets
    and the RMSE / MAE at each lead 1..horizon."""
    test = splits["test"]
    origins, inputs, targets = test.lead_windows()
    leads = list(range(1, test.horizon + 1))
    forecasts = {model_name: step.forecast(inputs)}
    forecasts.update({name: f(inputs) for name, f in fit_baselines(splits).items()})
    errors = {name: errors_by_lead(f, targets, leads) for name, f in forecasts.items()}
    return {"origins": origins, "targets": targets, "forecasts": forecasts, "errors": errors, "leads": leads}


def error_table(result: dict, unit: str) -> tuple:
    """``(lines, rows)``: the RMSE and MAE at the report's leads for each method, and the model's gain over the
    naive forecast (its mean RMSE over all leads, lower by so much)."""
    shown = default_leads(len(result["leads"]))
    errs = result["errors"]
    width = max(len(n) for n in errs) + 2
    head = "  ".join(f"{k:>7d}" for k in shown)
    lines = [f"{'RMSE (' + unit + ') at lead':{width}s}{head}   | MAE at lead {head}"]
    rows = []
    for name, e in errs.items():
        rmse, mae = [e["rmse"][k - 1] for k in shown], [e["mae"][k - 1] for k in shown]
        lines.append(f"{name:{width}s}" + "  ".join(f"{v:7.3f}" for v in rmse) + "   |             "
                     + "  ".join(f"{v:7.3f}" for v in mae))
        rows.append({"method": name, "leads": shown, "rmse": rmse, "mae": mae,
                     "mean_rmse": float(np.mean(e["rmse"])), "mean_mae": float(np.mean(e["mae"]))})
    model, naive = rows[0], next(r for r in rows if r["method"] == "naive")
    gain = 1 - model["mean_rmse"] / naive["mean_rmse"]
    lines.append(f"{model['method']} against the naive forecast: mean RMSE over leads 1-{len(result['leads'])} "
                 f"{model['mean_rmse']:.3f} vs {naive['mean_rmse']:.3f} {unit} "
                 f"({abs(gain) * 100:.1f}% {'lower' if gain > 0 else 'HIGHER'})")
    return lines, rows


def plot_forecasts(path: str, test, result: dict, title: str) -> str | None:
    """The test series with the model's forecasts at lead 1 and at the last lead, and RMSE against the lead;
    None (nothing written) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    start, stop = test.bounds["test"]
    ax.plot(test.times[start:stop], test.series[start:stop], "k.-", lw=1, ms=3, label="observed")
    name = next(iter(result["forecasts"]))
    h = len(result["leads"])
    for k, style in ((1, "-"), (h, "--")):
        ok = np.isfinite(result["targets"][:, k - 1])
        steps = result["origins"][ok] + k - 1
        ax.plot(test.times[steps], result["forecasts"][name][ok, k - 1], style, lw=1.2,
                label=f"{name}, {k} {test.step_name}{'' if k == 1 else 's'} ahead")
    ax.set_xlabel(test.time_label)
    ax.set_ylabel(test.quantity)
    ax.set_title(title)
    ax.legend(fontsize=8)
    for method, e in result["errors"].items():
        ax2.plot(result["leads"], e["rmse"], "o-", ms=3, label=method)
    ax2.set_xlabel(f"lead ({test.step_name}s ahead)")
    ax2.set_ylabel(f"test RMSE ({test.unit})")
    ax2.set_ylim(bottom=0)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def model_label(config: dict) -> str:
    cell = (config.get("options") or {}).get("cell")
    return f"{config.get('model', 'model')}" + (f" ({cell})" if cell else "")


def report(step, config: dict, splits: dict, echo, folder=None) -> dict:
    """Print the comparison on the test split (and plot it into ``folder``); the JSON-able figures."""
    test = splits["test"]
    result = compare(step, model_label(config), splits)
    lines, rows = error_table(result, test.unit)
    start, stop = test.bounds["test"]
    span = f"{int(test.times[start])}-{int(test.times[stop - 1])}"
    echo(f"test part of {test.name}: {stop - start} {test.step_name}s ({span}), each forecast once at every lead "
         f"1-{test.horizon} from the {test.window} {test.step_name}s before it:")
    for line in lines:
        echo("  " + line)
    out = {"table": rows, "window": test.window, "horizon": test.horizon, "unit": test.unit,
           "rmse_by_lead": {n: e["rmse"] for n, e in result["errors"].items()},
           "mae_by_lead": {n: e["mae"] for n, e in result["errors"].items()}}
    if folder is not None:
        png = plot_forecasts(os.path.join(folder, "forecast.png"), test, result,
                             f"{rows[0]['method']} on {test.name}, test part")
        echo(f"plot: {png}" if png else "(no plot: matplotlib is not installed; pip install matplotlib)")
        out["plot"] = png
    return out


class ForecastingTask(Task):
    name = "forecasting"
    data_parallel = True

    def load(self, dataset, settings, download, config=None):
        cls = get_dataset_class(dataset)
        cls.load_series(download=download)  # fetch (or fail) before the model is built
        window = int(config["window"]) if config and "window" in config else cls.default_window
        return RunData(train=None, val=None, in_shape=(window, 1), num_classes=int((config or {}).get("horizon", 0)),
                       extra={"cls": cls, "download": download})

    def make_step(self, entry, model, optimizer, data, settings):
        splits = series_splits(data.extra["cls"], model.window, model.horizon, data.extra["download"])
        train, valid, test = splits["train"], splits["valid"], splits["test"]
        data.train, data.val, data.in_shape, data.num_classes = train, valid, (model.window, 1), model.horizon
        data.config.update(window=model.window, horizon=model.horizon, scale={"mean": train.mean, "std": train.std})
        data.extra["splits"] = splits
        data.sizes = (f"{len(train):,} / {len(valid):,} / {len(test):,} train / validation / test windows of "
                      f"{model.window} {train.step_name}s -> {model.horizon}")
        step = ForecastStep(model, optimizer, train.mean, train.std, loss_fn=entry.training_loss(nn.MSELoss()))
        loader = DataLoader(train, batch_size=settings["batch_size"], shuffle=True, seed=settings["seed"])
        return step, loader, DataLoader(valid, batch_size=EVAL_BATCH)

    def final_report(self, trainer, data, settings, run, echo):
        test = data.extra["splits"]["test"]
        result = trainer.evaluate(DataLoader(test, batch_size=EVAL_BATCH))  # every rank: a sharded evaluation
        echo(f"test loss (last weights, standardised MSE over {len(test)} full windows): {result['loss']:.4f}, "
             f"RMSE {result['rmse']:.3f} {test.unit}  (training time {run['elapsed']:.1f} s)")
        config = {"model": trainer.config.get("model"), "options": trainer.config.get("options")}
        table = trainer.strategy.on_global_zero(
            lambda: report(trainer.step, config, data.extra["splits"], echo, folder=run["folder"]))
        return {**result, **table}

    def evaluate(self, model, config, options, echo):
        cls = get_dataset_class(options["dataset"])
        splits = series_splits(cls, int(config["window"]), int(config["horizon"]), options["download"])
        train, scale = splits["train"], config.get("scale") or {}
        if options["dataset"] == config.get("dataset") and scale:
            mean, std = float(scale["mean"]), float(scale["std"])
        else:  # another series: its own training part's scaling (the model reads standardised values)
            mean, std = train.mean, train.std
        step = ForecastStep(model, None, mean, std)
        echo(f"{config['model']} from {options['checkpoint']} (epoch {options['epoch']}) on {options['dataset']}")
        return report(step, config, splits, echo)


register_task(ForecastingTask())

__all__ = ["ForecastingTask", "compare", "error_table", "fit_baselines", "plot_forecasts", "report",
           "series_splits"]
