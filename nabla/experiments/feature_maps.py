"""feature-maps: a trained LeNet-5's first-layer filters and the activation maps of one image, as pictures.

Claims (notes, 现代深度学习架构), translated:

* (AlexNet's design) "several convolution and pooling layers are used to extract the image's features."
* (small kernels) "small kernels capture the local features of the input, improving the model's
  recognition of local patterns."

What a picture can show and a number can check: after training, each first-layer filter is a *local
feature detector*, a smooth, oriented pattern (a stroke or an edge detector), where the randomly
initialised filter is noise; and its activation map follows the image's edges.  Two numbers, each for
the initial and the trained filters of the same network:

1. smoothness: the correlation of horizontally and vertically neighbouring weights of the 5x5 filters
   (about 0 for independent random weights, positive for smooth patterns);
2. edge response: the mean, over filters and over 200 test images, of |corr(activation map, Sobel edge
   magnitude of the image)| for the first convolution (pre-activation; 'same' size as the image).

The model: ``nabla.models.lenet5`` (6 first-layer filters of 5x5, 16 of 5x5 in the second layer) trained
with Adam (lr 2e-3) on MNIST: full 400 steps of 64 (about half an epoch); quick 10 steps of 32 on
MNIST-5k.  The picture: the test image and its edge map, the six filters before and after training, the
six first-layer activation maps and the sixteen second-layer maps (after ReLU).

Supported when training raises both numbers: smoothness by at least 0.1 and the edge response by at least
5% (random 5x5 filters mostly take local differences, so they already respond to edges).
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import optim
from ..models import lenet5
from .base import register_experiment
from .common import evaluate, format_claims, load_images, say, tail_mean, train_classifier

CLAIM = ("convolution layers extract image features: the trained first-layer filters are local, smooth "
         "stroke and edge detectors, and their activation maps follow the image's edges")


def neighbour_correlation(weights: np.ndarray) -> float:
    """Correlation of horizontally and vertically adjacent weights, pooled over all filters (each filter
    centred on its own mean first)."""
    w = weights.reshape(-1, weights.shape[-2], weights.shape[-1]).astype(np.float64)
    w = w - w.mean(axis=(1, 2), keepdims=True)
    a = np.concatenate([w[:, :, :-1].ravel(), w[:, :-1, :].ravel()])
    b = np.concatenate([w[:, :, 1:].ravel(), w[:, 1:, :].ravel()])
    return float(np.corrcoef(a, b)[0, 1])


def sobel_magnitude(images: np.ndarray) -> np.ndarray:
    """|gradient| of (N, H, W) images by the 3x3 Sobel operator (edge-padded)."""
    p = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (p[:, :-2, 2:] + 2 * p[:, 1:-1, 2:] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, 1:-1, :-2] + p[:, 2:, :-2])
    gy = (p[:, 2:, :-2] + 2 * p[:, 2:, 1:-1] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, :-2, 1:-1] + p[:, :-2, 2:])
    return np.hypot(gx, gy)


def edge_response(model, x: np.ndarray) -> float:
    """Mean over images and first-layer filters of |corr(pre-activation map, Sobel edges of the image)|."""
    with nb.no_grad():
        maps = model.features.c1(nb.from_numpy(x)).data.astype(np.float64)          # (N, F, H, W)
    edges = sobel_magnitude(x[:, 0].astype(np.float64))[:, None]                 # (N, 1, H, W)
    m = maps - maps.mean(axis=(2, 3), keepdims=True)
    e = edges - edges.mean(axis=(2, 3), keepdims=True)
    corr = (m * e).sum(axis=(2, 3)) / np.sqrt((m ** 2).sum(axis=(2, 3)) * (e ** 2).sum(axis=(2, 3)) + 1e-12)
    return float(np.abs(corr).mean())


def activation_maps(model, image: np.ndarray) -> dict:
    """Every stage's output for one image (1, 1, H, W), by name (c1, act1, s2, c3, act3, s4)."""
    out, h = {}, nb.from_numpy(image)
    model.eval()
    with nb.no_grad():
        for name, layer in model.features.named_children():
            h = layer(h)
            out[name] = h.data[0].copy()
    model.train()
    return out


def _shown_image(test) -> np.ndarray:
    """The first test image of the probe as raw [0, 1] pixels (for display; ``test`` may be a Subset)."""
    raw = test.dataset if hasattr(test, "dataset") else test
    index = int(test.indices[0]) if hasattr(test, "indices") else 0
    return raw.data.data[index].astype(np.float64) / raw.max_value


CHAPTER = "modern-architectures"
NOTES = ("其设计理念包括使用多层卷积和池化层来提取图像特征 … 局部感受野：小尺寸核能够更好地捕捉输入数据的局部"
         "特征，从而提高了模型对局部模式的识别能力。",
         "(AlexNet) Its design idea includes using several convolution and pooling layers to extract the image's "
         "features ... Local receptive field: small kernels capture the local features of the input better, "
         "improving the model's recognition of local patterns. (That the trained filters look like stroke and "
         "edge detectors is nabla's reading of these sentences.)")


@register_experiment("feature-maps", "a trained LeNet-5's first-layer filters and one image's activation maps")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    if quick:
        train, test = load_images("mnist-5k", n_test=200, download=download)
        steps, batch, data_name = 10, 32, "MNIST-5k"
    else:
        train, test = load_images("mnist", n_test=2000, download=download)
        steps, batch, data_name = 400, 64, "MNIST (2,000 test images)"
    probe_x, probe_y = test.get_batch(np.arange(min(200, len(test))))
    nb.manual_seed(0)
    model = lenet5()
    w_init = model.features.c1.weight.data.copy()
    smooth_init, edge_init = neighbour_correlation(w_init), edge_response(model, probe_x)
    fit = train_classifier(model, train, steps, batch_size=batch, optimizer=optim.Adam(model.parameters(), lr=2e-3),
                           seed=0, echo=echo, label="feature-maps: LeNet-5")
    ev = evaluate(model, test)
    say(echo, "feature-maps", "LeNet-5", len(fit["losses"]), tail_mean(fit["losses"]), fit["time"],
        f", test accuracy {ev['accuracy']:.2%}")
    w_trained = model.features.c1.weight.data.copy()
    smooth_trained, edge_trained = neighbour_correlation(w_trained), edge_response(model, probe_x)
    maps = activation_maps(model, probe_x[:1])
    rows = [{"filters": "initial", "neighbour correlation": smooth_init, "|corr(map, edges)|": edge_init},
            {"filters": "trained", "neighbour correlation": smooth_trained, "|corr(map, edges)|": edge_trained,
             "test acc": ev["accuracy"]}]
    return {"table": rows, "steps": steps, "batch_size": batch, "dataset": data_name, "accuracy": ev["accuracy"],
            "losses": fit["losses"], "filters_init": w_init, "filters_trained": w_trained,
            "maps": {k: v for k, v in maps.items() if k in ("act1", "act3")},
            "smoothness": {"init": smooth_init, "trained": smooth_trained},
            "edge_response": {"init": edge_init, "trained": edge_trained},
            "shown_image": _shown_image(test), "shown_label": int(probe_y[0])}


def claims(numbers) -> dict:
    sm, edge = numbers["smoothness"], numbers["edge_response"]
    return {"trained filters are smoother (neighbour correlation up by >= 0.1)":
                bool(sm["trained"] >= sm["init"] + 0.1),
            "trained first-layer maps follow the image's edges more closely (by >= 5%)":
                bool(edge["trained"] >= 1.05 * edge["init"])}


def verdict(numbers):
    sm, edge, found = numbers["smoothness"], numbers["edge_response"], claims(numbers)
    text = (f"LeNet-5 after {numbers['steps']} Adam steps of {numbers['batch_size']} on {numbers['dataset']} (test "
            f"accuracy {numbers['accuracy']:.2%}): neighbouring filter weights correlate {sm['init']:+.2f} at "
            f"initialisation and {sm['trained']:+.2f} after training; first-layer maps correlate with the Sobel edge "
            f"map at |r| = {edge['init']:.2f} before and {edge['trained']:.2f} after. " + format_claims(found))
    return all(found.values()), text


def _show(fig, grid, r, c, img, title=None, cmap="gray", sym=False):
    rows, cols = grid
    ax = fig.add_subplot(rows, cols, r * cols + c + 1)
    if sym:
        v = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="bwr", vmin=-v, vmax=v)
    else:
        ax.imshow(img, cmap=cmap)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


def plot(fig, data):
    fig.set_size_inches(11, 9)
    grid, cols = (6, 8), 8
    w_init, w_trained = np.asarray(data["filters_init"]), np.asarray(data["filters_trained"])
    maps, shown = {k: np.asarray(v) for k, v in data["maps"].items()}, np.asarray(data["shown_image"], dtype=np.float64)
    _show(fig, grid, 0, 0, shown, f"test image (label {data['shown_label']})")
    _show(fig, grid, 0, 1, sobel_magnitude(shown[None])[0], "Sobel edges")
    for i in range(w_init.shape[0]):
        _show(fig, grid, 1, i, w_init[i, 0], "c1 filter, init" if i == 0 else None, sym=True)
        _show(fig, grid, 2, i, w_trained[i, 0], "c1 filter, trained" if i == 0 else None, sym=True)
        _show(fig, grid, 3, i, maps["act1"][i], "c1 map (ReLU)" if i == 0 else None, cmap="viridis")
    for i in range(maps["act3"].shape[0]):
        _show(fig, grid, 4 + i // cols, i % cols, maps["act3"][i], "c3 map (ReLU)" if i == 0 else None, cmap="viridis")
