"""The segmenters experiment in its quick configuration: five segmentation models and a digit classifier on
the same budget (test_experiments.py runs it; its cached result is shared here); the boundary band and the
decoder memory checked on their own."""
import numpy as np

from nabla.experiments.segmentation_measures import boundary_band, decoder_memory, dilate
from nabla.models.registry import build_model

from .test_experiments import _run


def test_segmenters_table(tmp_path_factory):
    result, record, lines, _ = _run("segmenters", tmp_path_factory)
    rows = {r["model"]: r for r in record["table"]}
    assert list(rows) == ["fcn32s", "fcn16s", "fcn8s", "unet", "segnet"]
    for r in rows.values():
        assert 0.0 <= r["miou_digits"] <= 1.0 and 0.0 <= r["boundary_acc"] <= 1.0 and 0.0 <= r["miou"] <= 1.0
        assert r["training images"] == record["data"]["train_images"] and r["parameters"] > 0
        assert r["training images/s"] > 0 and r["inference images/s"] > 0
    assert rows["fcn32s"]["decoder bytes"] == 0 < rows["fcn16s"]["decoder bytes"] < rows["fcn8s"]["decoder bytes"]
    seg = rows["segnet"]
    assert seg["decoder bytes"] == 32 * seg["decoder bytes (paper)"]       # int64 (64 bits) against 2 bits
    data = record["data"]
    assert set(data["curves"]) == set(rows) and len(data["classifier"]["curve"]) == len(data["curves"]["unet"])
    assert np.asarray(data["shown"]["predictions"]["unet"]).shape == (4, 64, 64)
    assert len(data["claims"]) == 3
    assert sum("test miou" in line for line in lines) == 5 and any("digit classifier" in line for line in lines)


def test_the_boundary_band_is_the_ring_within_r_pixels_of_an_edge():
    target = np.zeros((1, 16, 16), np.int64)
    target[0, 4:12, 4:12] = 3                                   # an 8x8 digit square
    band = boundary_band(target, r=2)[0]
    expected = np.zeros((16, 16), bool)
    expected[2:14, 2:14] = True                                 # dilated by 2...
    expected[6:10, 6:10] = False                                # ...less its erosion by 2
    np.testing.assert_array_equal(band, expected)
    target[0, 0, 0] = 255                                       # ignored pixels are never scored
    assert not boundary_band(target, r=2)[0, 0, 0]
    brute = np.zeros((12, 12), bool)                            # the dilation against a direct max
    m = np.random.default_rng(0).random((12, 12)) > 0.8
    padded = np.pad(m, 1)
    for i in range(12):
        for j in range(12):
            brute[i, j] = padded[i:i + 3, j:j + 3].any()
    np.testing.assert_array_equal(dilate(m[None], 1)[0], brute)


def test_decoder_memory_is_read_from_the_forward_pass():
    unet = build_model("unet", (1, 32, 32), 11, width=2, depth=2)
    assert decoder_memory(unet, (1, 32, 32))["decoder bytes"] == (2 * 32 * 32 + 4 * 16 * 16) * 4   # float32 skips
    segnet = build_model("segnet", (1, 32, 32), 11, widths="2,4", convs=1)
    pooled = 2 * 16 * 16 + 4 * 8 * 8
    assert decoder_memory(segnet, (1, 32, 32)) == {"decoder bytes": pooled * 8, "decoder bytes (paper)": pooled // 4}
