"""The ``generative`` experiment's figure: samples of each model beside real digits (top row), FID per seed, the
DCGAN's two losses and its validation FID over training, and the time to draw 64 samples (bottom row)."""
from __future__ import annotations

import numpy as np

from ..vision.utils import make_grid


def _tile(images) -> np.ndarray:
    """Thumbnails (N, H, W) as one picture, 4 a row, grey borders."""
    return make_grid(np.asarray(images, np.float32)[:, None], nrow=4, padding=1, pad_value=0.5)[0]


def draw(fig, data, models) -> None:
    shown = data["shown"]
    names = ["real"] + [m for m in models if m in shown]
    grid = fig.add_gridspec(2, max(len(names), 4))
    for i, name in enumerate(names):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(_tile(shown[name]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name if name == "real" else f"{name} samples", fontsize=9)
        ax.axis("off")
    rows = data["rows"]
    ax = fig.add_subplot(grid[1, 0])
    for k, name in enumerate(models):
        fids = [r["fid"] for r in rows if r["model"] == name]
        ax.scatter(np.full(len(fids), k), fids, label=name)
    ax.axhline(data["fid_floor"], color="grey", ls="--", lw=1, label="real floor")
    ax.set_xticks(range(len(models)), models, fontsize=8)
    ax.set_ylabel("classifier FID (per seed)")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[1, 1])
    for seed, losses in data.get("gan_losses", {}).items():
        for key, style in (("d_loss", "-"), ("g_loss", ":")):
            ax.plot(losses.get(key, []), style, lw=1, label=f"{key} seed {seed}")
    ax.set_title("DCGAN losses (moving average)", fontsize=9)
    ax.set_xlabel("window")
    ax.legend(fontsize=6)
    ax = fig.add_subplot(grid[1, 2])
    for seed, curve in enumerate(data.get("gan_val_fid", [])):
        if curve:
            steps, fid = zip(*curve)
            ax.plot(steps, fid, marker=".", label=f"seed {seed}")
    ax.set_title("DCGAN validation FID", fontsize=9)
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[1, 3])
    seconds = [next((r.get("seconds per 64 samples") for r in rows if r["model"] == m and r["seed"] == 0), np.nan)
               for m in models]
    ax.bar(range(len(models)), seconds)
    ax.set_yscale("log")
    ax.set_xticks(range(len(models)), models, fontsize=8)
    ax.set_ylabel("seconds for 64 samples")
