"""Real time series for forecasting: yearly sunspot numbers and weekly Mauna Loa CO2 (statsmodels' data sets).

Both come as CSV files inside the PyPI wheel ``statsmodels==0.15.0`` (``statsmodels/datasets/sunspots/
sunspots.csv``, ``statsmodels/datasets/co2/co2.csv``).  ``download=True`` fetches the wheel with
``pip install --no-deps --target <tmp>`` (statsmodels is neither imported nor installed into the environment,
none of its dependencies is fetched) and copies the one CSV into ``<cache>/<name>/``; the file is checked
against its sha256 before use.

* ``sunspots``: Wolf's yearly sunspot numbers, 1700-2008 (309 years; SIDC's yearly means).
* ``co2``: weekly mean CO2 at Mauna Loa (ppm), 1958-03-29 to 2001-12-29 (2,284 weeks; Keeling & Whorf,
  continuous analyser).  59 weeks have no value, all before 1986, the longest 18 weeks (January-May 1964); each is
  filled by linear interpolation in time between the measured weeks on either side
  (``x_t = x_a + (t - a) (x_b - x_a) / (b - a)``), and ``observed`` marks the measured weeks.

Splits by time, never shuffled across: ``train`` is the first 70 % of the series, ``valid`` the next 15 %,
``test`` the last 15 % (split points rounded to the nearest step).  A sample is a window: the input is the
``window`` values before a forecast origin ``t``, ``x_{t-window} .. x_{t-1}``, the target the ``horizon``
values from it on, ``x_t .. x_{t+horizon-1}``; a split holds the origins whose targets all lie in it (inputs
may reach back into the earlier part: that past is known at forecast time).  Values are standardised with
the mean and standard deviation of the *training part only*, ``z = (x - mean) / std``, so nothing of the
later parts leaks into the scaling; ``inverse`` maps back to the series' units.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .synthetic import Generated
from ..dataset import Dataset, _index_array
from . import cache as _cache

__all__ = ["TimeSeries", "Sunspots", "CO2", "SineSeries", "FRACTIONS", "split_bounds"]

FRACTIONS = (0.70, 0.15, 0.15)   # train, valid, test: consecutive parts of the series
STATSMODELS = "0.15.0"
# statsmodels/datasets/<name>/<file>: a series' folder in the cache has the name of its folder there
_STATSMODELS_DATA = _cache.PyPISource("statsmodels", STATSMODELS, "datasets", size="a 12 MB wheel")


def split_bounds(n: int) -> dict:
    """``{split: (start, stop)}``: the first 70 % of ``n`` steps, the next 15 %, the last 15 %."""
    a, b = int(round(n * FRACTIONS[0])), int(round(n * (FRACTIONS[0] + FRACTIONS[1])))
    return {"train": (0, a), "valid": (a, b), "test": (b, n)}


def interpolate_gaps(values: np.ndarray) -> np.ndarray:
    """NaNs replaced by linear interpolation between the nearest finite values on either side (ends: the
    nearest value)."""
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    if not ok.any():
        raise ValueError("interpolate_gaps: the series has no finite value")
    idx = np.arange(len(values))
    return np.interp(idx, idx[ok], values[ok])


class TimeSeries(Dataset):
    """The windows of one split of a univariate series (see the module docstring).

    ``TimeSeries(root=None, train=True, download=False, split=None, window=None, horizon=1)``;
    ``get_batch(idx)`` gives inputs float32 (B, window, 1) and targets float32 (B, horizon), both
    standardised.  ``series`` (the whole series in its units), ``times`` (decimal years), ``bounds``
    (each split's ``(start, stop)``), ``mean``/``std`` (the training part's), ``origins`` (each sample's
    first target step).  A subclass declares its facts and ``_read(rows) -> (times, values with NaN gaps)`` (the
    CSV rows after the header), or overrides ``load_series``.
    """

    name = ""
    description = ""
    source = None
    filename = ""
    checksum = ""
    unit = ""
    quantity = "value"           # what the values are, for a plot's axis
    step_name = "step"           # "year", "week": what one step is
    time_label = "year"          # what ``times`` count, for a plot's axis
    default_window = 24
    period = None                # a seasonal period in steps (co2: 52 weeks), None where there is none
    tasks = ("forecasting",)
    task = "forecasting"
    splits = ("train", "valid", "test")
    sizes: dict = {}             # observations per split
    image_shape: tuple = ()      # (default_window,): a sample's input length, for `nabla datasets`
    classes: list = []
    _split_aliases = {"val": "valid", "validation": "valid", "dev": "valid"}

    def __init__(self, root=None, train: bool = True, download: bool = False, split: str | None = None,
                 window: int | None = None, horizon: int = 1, transform=None):
        split = "train" if split is None and train else "test" if split is None else split
        split = self._split_aliases.get(str(split).lower(), str(split).lower())
        if split not in self.splits:
            raise ValueError(f"{type(self).__name__}: unknown split {split!r}; expected one of {list(self.splits)}")
        self.root = Path(root).expanduser() if root is not None else None
        self.times, raw = self.load_series(self.root, download)
        self.observed = np.isfinite(raw)
        self.series = interpolate_gaps(raw)
        self.bounds = split_bounds(len(self.series))
        window = self.default_window if window is None else int(window)
        self.split, self.window, self.horizon, self.transform = split, window, int(horizon), transform
        self._check_sizes()
        a, b = self.bounds["train"]
        self.mean, self.std = float(self.series[a:b].mean()), float(self.series[a:b].std())
        self.scaled = self.scale(self.series).astype(np.float32)
        start, stop = self.bounds[split]
        self.origins = np.arange(max(start, window), stop - self.horizon + 1, dtype=np.int64)

    def _check_sizes(self) -> None:
        who, (a, b) = type(self).__name__, self.bounds["train"]
        if self.window < 1 or self.horizon < 1:
            raise ValueError(f"{who}: window and horizon must be positive, got window={self.window}, "
                             f"horizon={self.horizon}")
        if self.window + self.horizon > b - a:
            raise ValueError(f"{who}: window {self.window} + horizon {self.horizon} exceeds the {b - a} steps of the "
                             "training part; choose a shorter window or horizon")
        shortest = min(stop - start for start, stop in self.bounds.values())
        if self.horizon > shortest:
            raise ValueError(f"{who}: horizon {self.horizon} exceeds the {shortest} steps of the shortest split")

    # ------------------------------------------------------------------ scaling
    def scale(self, x):
        """``(x - mean) / std`` with the training part's mean and std."""
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def inverse(self, z):
        """Back to the series' units: ``z * std + mean``."""
        return np.asarray(z, dtype=np.float64) * self.std + self.mean

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return len(self.origins)

    def windows(self, origins, values=None) -> tuple:
        """``(inputs (M, window), targets (M, horizon))`` of ``values`` (default: the series in its units) at
        forecast origins ``origins``; targets past the series' end are NaN."""
        values = self.series if values is None else values
        origins = np.asarray(origins, dtype=np.int64)
        inputs = values[origins[:, None] + np.arange(-self.window, 0)]
        steps = origins[:, None] + np.arange(self.horizon)
        padded = np.append(values.astype(np.float64), np.nan)  # index len(values): NaN
        return inputs, padded[np.minimum(steps, len(values))]

    def get_batch(self, indices) -> tuple:
        """Standardised inputs float32 (B, window, 1) and targets float32 (B, horizon)."""
        x, y = self.windows(self.origins[_index_array(indices)], self.scaled)
        x = x[..., None]
        if self.transform is not None:
            x = self.transform(x)
        return x.astype(np.float32, copy=False), y.astype(np.float32)

    def __getitem__(self, index):
        x, y = self.get_batch(np.array([index]))
        return x[0], y[0]

    def lead_windows(self) -> tuple:
        """For scoring every step of this split at every lead: ``(origins, inputs, targets)`` in the series'
        units, from each origin ``t`` with ``t + horizon - 1 >= start`` and ``t < stop``; a target outside
        the split (or not measured) is NaN.  Step ``s`` of the split is then forecast once at each lead
        ``k = 1..horizon``, from origin ``s - k + 1``."""
        start, stop = self.bounds[self.split]
        origins = np.arange(max(start - self.horizon + 1, self.window), stop, dtype=np.int64)
        inputs, targets = self.windows(origins)
        steps = origins[:, None] + np.arange(self.horizon)
        measured = np.append(self.observed, False)[np.minimum(steps, len(self.series))]
        targets[(steps < start) | (steps >= stop) | ~measured] = np.nan
        return origins, inputs, targets

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, windows={len(self)}, window={self.window}, "
                f"horizon={self.horizon})")

    # ------------------------------------------------------------------ finding and reading the file
    @classmethod
    def folder(cls, root=None) -> Path:
        return (Path(root).expanduser() if root is not None else _cache.data_root()) / cls.name

    @classmethod
    def _locate(cls, root=None):
        p = cls.folder(root) / cls.filename
        return p if p.is_file() else cls.source.locate(f"{cls.name}/{cls.filename}")

    @classmethod
    def is_present(cls, root=None) -> bool:
        return cls._locate(root) is not None

    @classmethod
    def install_hint(cls) -> str:
        return (f"{cls.source.install_hint()} (only statsmodels/{cls.source.subdir}/{cls.name}/{cls.filename} is "
                f"read, statsmodels is never imported), or copy that file into {cls.folder()}")

    @classmethod
    def load_series(cls, root=None, download: bool = False) -> tuple:
        """``(times as decimal years, values with NaN where missing)``, the file found or fetched and checked."""
        path, dest = cls._locate(root), cls.folder(root)
        if path is None:
            if not download:
                raise _cache.DatasetNotFoundError(
                    f"{cls.__name__}: data set not found (missing {cls.filename}; looked in {dest} and where "
                    f"statsmodels installs it). Install it with: {cls.install_hint()}", fetch_into=dest)
            _cache.announce_fetch(cls.name, cls.source.label, cls.source.size, dest)
            try:
                cls._fetch(root)
            except (_cache.FetchError, OSError) as e:
                raise _cache.DatasetNotFoundError(f"{cls.__name__}: could not download the data set ({e}). "
                                                  f"Install it with: {cls.install_hint()}") from None
            path = dest / cls.filename
        _cache.verify(path, cls.checksum, hint=f"expected the file of {cls.source.label}; if it is in {dest}, "
                                               "delete it and load again (it is fetched afresh)")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        try:
            return cls._read(rows[1:])
        except (ValueError, IndexError) as e:
            raise ValueError(f"{cls.__name__}: cannot parse {path} ({e}); expected {cls.filename} of "
                             f"statsmodels=={STATSMODELS}") from None

    @classmethod
    def _fetch(cls, root=None) -> None:
        """One pip fetch of the wheel copies every statsmodels series still missing from the cache (each into
        ``<cache>/<name>/``), not just this one."""
        same = [c for c in _STATSMODELS_SERIES
                if c.source is cls.source and not (c.folder(root) / c.filename).is_file()]
        names = [f"{c.name}/{c.filename}" for c in same]
        root = cls.folder(root).parent
        cls.source.fetch(names, root, {f"{c.name}/{c.filename}": c.checksum for c in same})


class Sunspots(TimeSeries):
    """Yearly sunspot numbers 1700-2008 (309 values; statsmodels' ``sunspots``: columns YEAR, SUNACTIVITY)."""

    name = "sunspots"
    description = ("yearly sunspot numbers 1700-2008 (sizes in years; samples: the last 24 years -> the next "
                   "horizon years; split 70/15/15 % by time)")
    source = _STATSMODELS_DATA
    filename = "sunspots.csv"
    checksum = "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b"
    unit = "sunspots"
    quantity = "yearly sunspot number"
    step_name = "year"
    default_window = 24
    sizes = {"train": 216, "valid": 47, "test": 46}
    image_shape = (24,)

    @classmethod
    def _read(cls, rows) -> tuple:
        table = np.array([[float(r[0]), float(r[1])] for r in rows if r])
        return table[:, 0], table[:, 1]


class CO2(TimeSeries):
    """Weekly Mauna Loa CO2 1958-2001 in ppm (2,284 weeks, 59 missing and interpolated; columns date
    YYYYMMDD, co2)."""

    name = "co2"
    description = ("weekly Mauna Loa CO2 (ppm) 1958-2001, 59 missing weeks linearly interpolated (sizes in weeks; "
                   "samples: the last 104 weeks -> the next horizon weeks; split 70/15/15 % by time)")
    source = _STATSMODELS_DATA
    filename = "co2.csv"
    checksum = "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f"
    unit = "ppm"
    quantity = "CO2 (ppm)"
    step_name = "week"
    default_window = 104
    period = 52
    sizes = {"train": 1599, "valid": 342, "test": 343}
    image_shape = (104,)

    @classmethod
    def _read(cls, rows) -> tuple:
        rows = [r for r in rows if r]
        dates = np.array([np.datetime64(f"{r[0][:4]}-{r[0][4:6]}-{r[0][6:8]}") for r in rows])
        years = dates.astype("datetime64[Y]")
        fraction = (dates - years).astype(np.float64) / 365.25
        values = np.array([float(r[1]) if r[1].strip() else np.nan for r in rows])
        return years.astype(np.int64) + 1970 + fraction, values


_STATSMODELS_SERIES = (Sunspots, CO2)


class SineSeries(Generated, TimeSeries):
    """Generated (seed 0): ``x_t = 10 sin(2 pi t / 20) + 3 sin(2 pi t / 7) + N(0, 1)``, 600 steps: a series
    with a known answer for tests and demos (no file, nothing fetched)."""

    name = "sine-series"
    description = "generated sum of two sines (periods 20 and 7) plus unit noise, 600 steps (seed 0)"
    unit = "units"
    time_label = "step"
    default_window = 24
    sizes = {"train": 420, "valid": 90, "test": 90}
    image_shape = (24,)
    length = 600

    @classmethod
    def load_series(cls, root=None, download: bool = False) -> tuple:
        t = np.arange(cls.length, dtype=np.float64)
        noise = np.random.default_rng(0).normal(0.0, 1.0, cls.length)
        return t, 10 * np.sin(2 * np.pi * t / 20) + 3 * np.sin(2 * np.pi * t / 7) + noise
