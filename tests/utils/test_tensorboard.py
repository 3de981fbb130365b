"""nabla.utils.tensorboard.SummaryWriter: what it writes reads back from the event files with the values given
(scalars, histograms of Tensors and arrays, images in CHW/HWC, text, hparams, the model graph folded by module),
and the missing extra is one line."""
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


def _graph(folder):
    from tensorboardX.proto import graph_pb2

    from .events import records
    (path,) = folder.glob("events.out.tfevents.*")
    (event,) = [e for e in records(path) if e.HasField("graph_def")]
    graph = graph_pb2.GraphDef()
    graph.ParseFromString(event.graph_def)
    return graph


@needs_tbx
def test_add_graph_writes_the_autograd_graph_folded_by_module(tmp_path):
    from nabla import nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(64, 5))
    for p in model.parameters():
        p.requires_grad_(False)              # frozen: the graph is recorded all the same
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, np.ones((1, 3, 4, 4), np.float32))
    assert model.training and not model[1].running_mean.data.any()   # traced in eval mode, the mode restored
    nodes = {n.name: n for n in _graph(tmp_path).node}
    shape = lambda n: [d.size for d in nodes[n].attr["_output_shapes"].list.shape[0].dim]  # noqa: E731
    assert nodes["input/input_0"].op == "IO Node" and shape("input/input_0") == [1, 3, 4, 4]
    assert nodes["0/weight"].op == nodes["4/bias"].op == "Parameter" and shape("0/weight") == [4, 3, 3, 3]
    (conv,) = [n for n in nodes if n.startswith("0/") and nodes[n].op != "Parameter"]
    assert list(nodes[conv].input) == ["input/input_0", "0/weight", "0/bias"] and shape(conv) == [1, 4, 4, 4]
    assert any(n.startswith("1/") and nodes[n].op != "Parameter" for n in nodes)   # BatchNorm's ops in its scope
    (relu,) = [n for n in nodes if n.startswith("2/")]
    assert nodes[relu].input[0].startswith("1/")
    (out,) = [n for n in nodes if n.startswith("output/")]
    (last,) = nodes[out].input
    assert last.startswith("4/") and shape(out) == [1, 5] and "4/weight" in nodes[last].input
    assert all(i in nodes for n in nodes.values() for i in n.input)   # every edge names a node


def test_add_graph_needs_an_input():
    from nabla import nn
    with pytest.raises(ValueError, match="Linear needs input_to_model"):
        SummaryWriter.__new__(SummaryWriter).add_graph(nn.Linear(2, 2))
