"""The ``segmenters`` figure, from the experiment's data alone: validation mIoU against training images for
each model (and the digit classifier's test accuracy against the same numbers of digits) on top; below it the
same four test scenes, their ground truth and each model's prediction, masks in VOC's colours."""
from __future__ import annotations

import numpy as np

from ..vision.draw_masks import label_colormap


def _curves(ax, data, models) -> None:
    for i, name in enumerate(models):
        pts = np.asarray(data["curves"][name], dtype=np.float64).reshape(-1, 2)
        ax.plot(pts[:, 0], pts[:, 1], "o-", color=f"C{i}", label=name)
    clf = np.asarray(data["classifier"]["curve"], dtype=np.float64).reshape(-1, 2)
    ax.plot(clf[:, 0], clf[:, 1], "s--", color="k", label=f"digit classifier ({data['classifier']['model']}), "
                                                           "test accuracy")
    ax.axhline(data["level"], color="grey", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("training images (scenes; digits for the classifier), log scale")
    ax.set_ylabel("validation mIoU / accuracy")
    ax.set_title(f"mIoU against training images ({data['train_images']:,} each)")
    ax.legend(fontsize=7, loc="upper left")


def draw(fig, data, models, shown: int) -> None:
    rows = ["image", "truth", *models]
    fig.set_size_inches(2.2 * shown + 1, 3.6 + 2.0 * len(rows))
    grid = fig.add_gridspec(1 + len(rows), shown, height_ratios=[3.2] + [1] * len(rows))
    _curves(fig.add_subplot(grid[0, :]), data, models)
    cmap = label_colormap(256)
    images = np.asarray(data["shown"]["images"], dtype=np.float32)
    panels = {"image": None, "truth": np.asarray(data["shown"]["masks"]),
              **{m: np.asarray(data["shown"]["predictions"][m]) for m in models}}
    for r, name in enumerate(rows):
        for col in range(shown):
            a = fig.add_subplot(grid[1 + r, col])
            if panels[name] is None:
                a.imshow(images[col], cmap="gray", vmin=0, vmax=1)
            else:
                a.imshow(cmap[np.clip(panels[name][col], 0, 255)])
            a.set_xticks([])
            a.set_yticks([])
            if col == 0:
                a.set_ylabel(name, fontsize=9)
