"""nabla.utils.tensorboard.SummaryWriter: what it writes reads back from the event files with the values given
(scalars, histograms of Tensors and arrays, images in CHW/HWC, text, hparams), and the missing extra is one line."""
import sys

import numpy as np
import pytest

import nabla

try:
    import tensorboardX  # noqa: F401
except ImportError:
    tensorboardX = None
# every test but the missing-extra one needs the extra itself
needs_tbx = pytest.mark.skipif(tensorboardX is None,
                               reason='tensorboardX is not installed (pip install "nabla[tensorboard]")')

from nabla.utils.tensorboard import SummaryWriter, TensorBoardLogger  # noqa: E402

from .events import read_events  # noqa: E402


@needs_tbx
def test_scalars_read_back_at_their_steps(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("tensor", nabla.tensor(2.5), 7)
        w.add_scalar("array", np.array([0.25]), 8)
        assert w.log_dir == str(tmp_path) == w.get_logdir()
    events = read_events(tmp_path)
    assert [s for s, _ in events["loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in events["loss"]], [1.0, 0.5, 1 / 3], rtol=1e-6)
    assert events["tensor"] == [(7, 2.5)] and events["array"] == [(8, 0.25)]


@needs_tbx
def test_add_scalars_writes_one_run_per_curve(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalars("acc", {"train": 0.9, "val": nabla.tensor(0.8)}, 5)
    assert read_events(tmp_path / "acc" / "train")["acc"] == [(5, pytest.approx(0.9))]
    assert read_events(tmp_path / "acc" / "val")["acc"] == [(5, pytest.approx(0.8))]


@needs_tbx
@pytest.mark.parametrize("kind", ["tensor", "array"])
def test_histogram_holds_the_values_count_sum_and_range(tmp_path, kind):
    values = np.random.default_rng(0).normal(size=(20, 30)).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", nabla.tensor(values) if kind == "tensor" else values, 3)
    ((step, h),) = read_events(tmp_path)["w"]
    assert step == 3 and h.num == values.size
    assert h.min == pytest.approx(values.min()) and h.max == pytest.approx(values.max())
    assert h.sum == pytest.approx(values.sum(), abs=1e-3)
    assert h.sum_squares == pytest.approx((values.astype(np.float64) ** 2).sum(), rel=1e-5)
    assert sum(h.bucket) == values.size


def _decoded(image_proto):
    from io import BytesIO
    PIL = pytest.importorskip("PIL.Image", reason="Pillow is not installed (decoding the PNG)")
    return np.asarray(PIL.open(BytesIO(image_proto.encoded_image_string)))


@needs_tbx
def test_images_in_chw_and_hwc_read_back_as_the_same_pixels(tmp_path):
    img = np.zeros((3, 4, 5), np.float32)
    img[0, 1, 2], img[2, 3, 4] = 1.0, 0.5          # a red and a half-blue pixel
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", nabla.tensor(img), 1)
        w.add_image("hwc", img.transpose(1, 2, 0), 2, dataformats="HWC")
        w.add_images("batch", np.stack([img, img]), 3)
    events = read_events(tmp_path)
    for tag in ("chw", "hwc"):
        ((_, proto),) = events[tag]
        assert (proto.height, proto.width, proto.colorspace) == (4, 5, 3)
        pixels = _decoded(proto)
        assert pixels[1, 2].tolist() == [255, 0, 0] and pixels[3, 4, 2] in (127, 128) and pixels.sum() < 255 + 129
    ((_, grid),) = events["batch"]
    assert grid.height == 4 and grid.width >= 10   # two 4x5 images side by side


@needs_tbx
def test_text_and_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "lr **0.1**", 4)
        w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"hparam/acc": nabla.tensor(0.75)}, run_name="trial")
    assert read_events(tmp_path)["notes/text_summary"] == [(4, "lr **0.1**")]
    hp = read_events(tmp_path / "trial")
    assert hp["hparam/acc"] == [(0, 0.75)]
    ((_, start),) = hp["_hparams_/session_start_info"]   # the hyper-parameters' values, as the plugin reads them
    assert start.plugin_name == "hparams" and b"opt" in start.content and b"sgd" in start.content


@needs_tbx
def test_figure_is_drawn_as_an_image(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot", reason="matplotlib is not installed")
    fig = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("plot", fig, 0)
    ((_, proto),) = read_events(tmp_path)["plot"]
    assert (proto.height, proto.width) == (50, 100)


def test_missing_tensorboardx_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)   # `import tensorboardX` now raises ImportError
    with pytest.raises(ImportError) as info:
        SummaryWriter(tmp_path)
    message = str(info.value)
    assert "\n" not in message and 'pip install "nabla[tensorboard]"' in message


def test_logger_refuses_a_step_count_below_one(tmp_path):
    with pytest.raises(ValueError, match="log_every_n_steps must be >= 1, got 0"):
        TensorBoardLogger(tmp_path, log_every_n_steps=0)


class _Sampler:
    """A stand-in generative model: ``sample`` draws from the generator it is given, values in [0, 1]."""
    training = True

    def eval(self):
        self.training = False

    def train(self, mode=True):
        self.training = mode

    def sample(self, n, labels=None, generator=None):
        return generator.random((n, 1, 4, 4)).astype(np.float32)


@needs_tbx
def test_the_sample_grid_is_drawn_from_a_fixed_seed_and_leaves_training_mode_as_it_was(tmp_path):
    logger = TensorBoardLogger(tmp_path, sample_grid=4)
    model = _Sampler()
    with SummaryWriter(tmp_path) as logger.writer:
        logger._samples(model, 1)
        logger._samples(model, 2)
    assert model.training
    (_, first), (_, second) = read_events(tmp_path)["samples"]
    assert (first.height, first.width) == (2 * 6 + 2, 2 * 6 + 2)     # 2 x 2 grid of 4x4 with 2-pixel padding
    assert first.encoded_image_string == second.encoded_image_string  # the same seed each time


class _Segmenter:
    num_classes = 3

    def segment(self, images):
        masks = np.zeros((len(images), 4, 5), np.int64)
        masks[:, 0, 0], masks[:, 3, 4] = 1, 2
        return masks


@needs_tbx
def test_the_segmentation_overlay_colours_the_predicted_classes_only(tmp_path):
    from nabla.vision.draw_masks import label_colormap
    images = np.zeros((3, 1, 4, 5), np.float32)
    images[:, :, 1, 1] = 1.0                                         # one white pixel in each image
    logger = TensorBoardLogger(tmp_path, overlays=2)
    with SummaryWriter(tmp_path) as logger.writer:
        logger._segmentation(_Segmenter(), [(images, None)], 5)
    ((step, proto),) = read_events(tmp_path)["segmentation"]
    pixels = _decoded(proto)
    assert step == 5 and (proto.height, proto.width) == (4, 2 * 5)  # the first 2 images side by side
    first = pixels[:, :5]
    colours = label_colormap(3).astype(int)
    assert first[0, 0].tolist() == np.rint(0.5 * colours[1]).tolist()    # class 1 blended over black
    assert first[3, 4].tolist() == np.rint(0.5 * colours[2]).tolist()
    assert first[1, 1].tolist() == [255, 255, 255] and first[2, 2].tolist() == [0, 0, 0]  # background left clear
