"""``nabla sample CKPT`` for image models: a grid of samples, of one class, a latent walk, or completions.

    nabla sample CKPT --num-samples 64 --out grid.png          samples, 8 a row
    nabla sample CKPT --label 7 --out sevens.png                a conditional model's samples of one class
    nabla sample CKPT --interpolate --out walk.png              VAE: rows of 10 steps between the latent means
                                                                of two test images of different classes
    nabla sample CKPT --inpaint IMAGE.png --keep top            PixelCNN, VAE: the kept half of a real image
    nabla sample CKPT --inpaint test:17 --keep left             (a PNG, or test image 17 of the checkpoint's
                                                                data set) and several completions of the rest

An inpainting row shows the original, the kept part (the missing part grey), then the completions.  The
picture is written next to the checkpoint (``samples.png``, ``samples-2.png``, ... never replacing a file)
unless ``--out`` names it.
"""
from __future__ import annotations

import os

import numpy as np

WALK_STEPS = 10
KEEPS = ("top", "bottom", "left", "right")


def keep_mask(shape, keep: str) -> np.ndarray:
    """A bool (H, W) mask, True on the kept half: the ``keep`` side ("top", "bottom", "left", "right")."""
    if keep not in KEEPS:
        raise ValueError(f"--keep must be one of {', '.join(KEEPS)}, got {keep!r}")
    h, w = shape
    mask = np.zeros((h, w), bool)
    if keep == "top":
        mask[: h // 2] = True
    elif keep == "bottom":
        mask[h // 2:] = True
    elif keep == "left":
        mask[:, : w // 2] = True
    else:
        mask[:, w // 2:] = True
    return mask


def free_name(folder: str, stem: str = "samples") -> str:
    """``folder/stem.png``, or ``stem-2.png``, ``stem-3.png``... : the first that does not exist."""
    path, k = os.path.join(folder, f"{stem}.png"), 2
    while os.path.exists(path):
        path, k = os.path.join(folder, f"{stem}-{k}.png"), k + 1
    return path


def _test_images(config: dict, options: dict):
    from .tasks.generative import load_images
    return load_images(config["dataset"], False, options.get("download", True))


def inpaint_source(spec: str, model, config: dict, options: dict) -> np.ndarray:
    """The image to complete, (1, C, H, W) in [0, 1]: ``test:N`` (test image N of the checkpoint's data set) or a
    PNG/JPEG file (grey, resized to the model's input; binarized at 0.5 for a model of binarized data)."""
    c, h, w = model.in_shape
    if spec.startswith("test:"):
        test = _test_images(config, options)
        try:
            index = int(spec[5:])
        except ValueError:
            raise ValueError(f"--inpaint {spec!r}: expected test:INDEX, e.g. test:17") from None
        if not 0 <= index < len(test):
            raise ValueError(f"--inpaint {spec!r}: the test split of {config['dataset']} has {len(test):,} images")
        return test.get_batch(np.array([index]))[0].astype(np.float32)
    from ..data.image_io import _resize, read_image
    if not os.path.exists(spec):
        raise ValueError(f"--inpaint {spec!r}: no such file (give a PNG/JPEG, or test:INDEX for a test image)")
    image = read_image(spec, channels=c, who="nabla sample --inpaint").astype(np.float32)   # (C, H, W) uint8
    if image.shape[1:] != (h, w):
        image = _resize(image, h, w).astype(np.float32)
    image = image[None] / 255.0
    if config.get("binarized"):
        image = (image > 0.5).astype(np.float32)
    return image


def _grid(images, path, nrow, echo, what) -> str:
    from ..vision.utils import save_image
    save_image(images, path, nrow=nrow, exclusive=True, pad_value=0.5)
    echo(f"{what}: {path}")
    return path


def sample_command(model, config: dict, options: dict, echo=print) -> dict:
    """What ``nabla sample`` does with a generative checkpoint (see the module docstring)."""
    from .tasks.generative import sample_images
    model.eval()
    seed = int(options.get("seed") or 0)
    n = int(options.get("num_samples") or 64)
    out = options.get("out") or free_name(os.path.dirname(os.path.abspath(options.get("checkpoint", "."))))
    label = options.get("label")
    rng = np.random.default_rng(seed)
    if options.get("interpolate"):
        if not hasattr(model, "interpolate"):
            raise ValueError(f"{config['model']} has no latent space to walk: --interpolate needs a VAE checkpoint")
        test = _test_images(config, options)
        rows = max(1, n // WALK_STEPS)
        pairs = _pairs_of_different_classes(test, rows, rng)
        images = test.get_batch(pairs.ravel())[0].astype(np.float32)
        walks = [model.interpolate(images[2 * i:2 * i + 1], images[2 * i + 1:2 * i + 2], WALK_STEPS)
                 for i in range(rows)]
        _grid(np.concatenate(walks), out, WALK_STEPS, echo, f"{rows} latent walks of {WALK_STEPS} steps")
        return {"out": out}
    if options.get("inpaint"):
        if not hasattr(model, "inpaint"):
            raise ValueError(f"{config['model']} ({config.get('task')}) cannot complete an image: --inpaint needs a "
                             "PixelCNN or VAE checkpoint")
        image = inpaint_source(options["inpaint"], model, config, options)
        mask = keep_mask(model.in_shape[1:], options.get("keep") or "top")
        completions = min(n, 8)
        done = model.inpaint(image, mask, completions, generator=rng)[0]          # (completions, C, H, W)
        shown = np.where(mask, image[0], 0.5)[None]
        _grid(np.concatenate([image, shown, done]), out, completions + 2, echo,
              f"original, kept {options.get('keep') or 'top'} half, {completions} completions")
        return {"out": out}
    labels = None
    if label is not None:
        if not getattr(model, "conditional", False):
            from ..models.registry import get_model_entry
            how = ("train it with --set conditional=true" if "conditional" in get_model_entry(config["model"]).options
                   else "only a conditional GAN (gan or dcgan trained with --set conditional=true) takes --label")
            raise ValueError(f"--label {label}: this {config['model']} checkpoint is not conditional ({how})")
        if not 0 <= label < model.num_classes:
            raise ValueError(f"--label {label}: the model knows classes 0-{model.num_classes - 1}")
        labels = np.full(n, label, np.int64)
    images = sample_images(model, n, seed=seed, labels=labels)
    _grid(images, out, 8, echo, f"{n} samples" + (f" of class {label}" if label is not None else ""))
    return {"out": out}


def _pairs_of_different_classes(test, rows: int, rng) -> np.ndarray:
    """``rows`` pairs of test indices whose classes differ, (rows, 2)."""
    labels = test.targets.data
    first = rng.choice(len(labels), size=rows, replace=False)
    second = np.empty(rows, np.int64)
    for i, a in enumerate(first):       # a handful of rows: not a data loop
        others = np.flatnonzero(labels != labels[a])
        second[i] = others[rng.integers(len(others))]
    return np.stack([first, second], axis=1)
