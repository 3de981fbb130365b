"""nabla.vision against torchvision 0.28.0 itself (imported through torchvision_shim beside the CPU torch):
its box functions, BoxCoder, AnchorGenerator, batched-NMS offset trick and pure-PyTorch RoIAlign
(``_roi_align``) are the oracles, values and gradients, float32 and float64.  torchvision's compiled
kernels do not load here, so NMS and RoIPool are checked against the small torch references below, which
follow its CPU kernels (csrc/ops/cpu/nms_kernel.cpp, roi_pool_kernel.cpp) rule by rule.  smooth_l1_loss
against torch.nn.functional.smooth_l1_loss."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.vision import AnchorGenerator, BoxCoder, ops

from .torchvision_shim import import_torchvision, roi_align_reference

torch = pytest.importorskip("torch")
tv = import_torchvision()
tv_boxes = pytest.importorskip("torchvision.ops.boxes")
tv_utils = pytest.importorskip("torchvision.models.detection._utils")
tv_anchors = pytest.importorskip("torchvision.models.detection.anchor_utils")

DTYPES = [np.float32, np.float64]
_TORCH = {np.float32: torch.float32, np.float64: torch.float64}
FLT_MAX = float(np.finfo(np.float32).max)


# ------------------------------------------------------------------ references of the compiled kernels
def nms_reference(boxes, scores, iou_threshold):
    """torchvision's CPU nms kernel, rule by rule: areas (x2 - x1)(y2 - y1); visit by descending score with a
    stable sort; keep a box not yet suppressed; suppress every later box whose IoU with it, computed in the
    boxes' dtype as inter / (area_i + area_j - inter), is strictly greater than the threshold (a double).
    (The kernel skips boxes suppressed already; computing their IoU too changes nothing.)"""
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = torch.sort(scores, descending=True, stable=True)[1]
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for pos, i in enumerate(order.tolist()):
        if suppressed[i]:
            continue
        keep.append(i)
        later = order[pos + 1:]
        w = torch.clamp(torch.minimum(x2[i], x2[later]) - torch.maximum(x1[i], x1[later]), min=0)
        h = torch.clamp(torch.minimum(y2[i], y2[later]) - torch.maximum(y1[i], y1[later]), min=0)
        inter = w * h
        ovr = inter / (areas[i] + areas[later] - inter)
        suppressed[later[ovr.double() > iou_threshold]] = True
    return torch.tensor(keep, dtype=torch.int64)


def _c_round(x: float) -> int:
    """C's round(): halves away from zero (x - trunc(x) is exact)."""
    t = math.trunc(x)
    return t + (int(math.copysign(1, x)) if abs(x - t) >= 0.5 else 0)


def roi_pool_reference(input, rois, spatial_scale, pooled_height, pooled_width):
    """torchvision's CPU roi_pool kernel, rule by rule (vectorised over channels only): RoI edges scaled in
    the input's dtype and rounded; extents max(end - start + 1, 1); bin [floor(p bin), ceil((p + 1) bin))
    + start, clipped to the map; an empty bin is 0; else the max starts at -FLT_MAX and takes a value only
    when strictly greater, scanning rows then columns.  Returns the output, differentiable as a gather at
    the argmax (the kernel's backward), and the argmax (flat index into input, -1 for none)."""
    n, c, height, width = input.shape
    dt = input.dtype
    scale = torch.tensor(spatial_scale, dtype=dt)
    flat_in = input.reshape(-1)
    outs, args = [], []
    for r in rois:
        b = int(r[0].item())
        sw, sh, ew, eh = (_c_round((r[i] * scale).item()) for i in (1, 2, 3, 4))
        bin_h = torch.tensor(max(eh - sh + 1, 1), dtype=dt) / pooled_height
        bin_w = torch.tensor(max(ew - sw + 1, 1), dtype=dt) / pooled_width
        for ph in range(pooled_height):
            hs = min(max(int(torch.floor(torch.tensor(ph, dtype=dt) * bin_h)) + sh, 0), height)
            he = min(max(int(torch.ceil(torch.tensor(ph + 1, dtype=dt) * bin_h)) + sh, 0), height)
            for pw in range(pooled_width):
                ws = min(max(int(torch.floor(torch.tensor(pw, dtype=dt) * bin_w)) + sw, 0), width)
                we = min(max(int(torch.ceil(torch.tensor(pw + 1, dtype=dt) * bin_w)) + sw, 0), width)
                empty = he <= hs or we <= ws
                maxval = torch.full((c,), 0.0 if empty else -FLT_MAX, dtype=dt)
                maxidx = torch.full((c,), -1, dtype=torch.int64)
                for h in range(hs, he):
                    for w in range(ws, we):
                        v = input[b, :, h, w].detach()
                        upd = v > maxval
                        maxval = torch.where(upd, v, maxval)
                        maxidx = torch.where(upd, ((b * c + torch.arange(c)) * height + h) * width + w, maxidx)
                outs.append(torch.where(maxidx >= 0, flat_in[maxidx.clamp(min=0)], maxval))
                args.append(maxidx)
    if not outs:
        return input.new_zeros((0, c, pooled_height, pooled_width)), torch.zeros((0, c, pooled_height, pooled_width))
    shape = (len(rois), pooled_height, pooled_width, c)
    out = torch.stack(outs).reshape(shape).permute(0, 3, 1, 2)
    return out, torch.stack(args).reshape(shape).permute(0, 3, 1, 2)


# ------------------------------------------------------------------ helpers
def _boxes(rng, n, size=40.0):
    xy = rng.uniform(0, size, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(0.5, size / 2, (n, 2))], axis=1)


def _compare(nb_fn, tv_fn, arrays, dtype, grad=True):
    """Value and the gradient of <u, f(inputs)> w.r.t. every input, nabla vs the torch reference."""
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    xs = [nb.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    ts = [torch.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    out, ref = nb_fn(*xs), tv_fn(*ts)
    assert out.dtype == dtype and tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **tol)
    if grad:
        u = np.random.default_rng(9).standard_normal(tuple(ref.shape)).astype(dtype)
        (out * nb.tensor(u)).sum().backward()
        (ref * torch.tensor(u)).sum().backward()
        for x, t in zip(xs, ts):
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), **tol)


def test_the_oracle_is_torchvision_0_28():
    assert tv.__version__.startswith("0.28.0")


# ------------------------------------------------------------------ box ops
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["box_iou", "generalized_box_iou"])
def test_pairwise_iou_matches_torchvision(name, dtype):
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 13), _boxes(rng, 7)
    b[:3] = a[:3]  # identical pairs (ties in max/min: the gradient splits evenly in both)
    _compare(getattr(ops, name), getattr(tv.ops, name), [a, b], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmts", [(i, o) for i in ("xyxy", "xywh", "cxcywh") for o in ("xyxy", "xywh", "cxcywh")])
def test_box_convert_matches_torchvision(fmts, dtype):
    rng = np.random.default_rng(1)
    a = _boxes(rng, 12).reshape(3, 4, 4)
    _compare(lambda x: ops.box_convert(x, *fmts), lambda t: tv.ops.box_convert(t, *fmts), [a], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_area_and_clip_match_torchvision(dtype):
    rng = np.random.default_rng(2)
    a = _boxes(rng, 10) - 10.0
    _compare(ops.box_area, tv.ops.box_area, [a], dtype)
    _compare(lambda x: ops.clip_boxes_to_image(x, (25, 30)), lambda t: tv.ops.clip_boxes_to_image(t, (25, 30)),
             [a], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_remove_small_boxes_matches_torchvision(dtype):
    rng = np.random.default_rng(3)
    a = _boxes(rng, 30, size=8.0).astype(dtype)
    a[0, 2:] = a[0, :2] + 2.0  # exactly min_size wide and high: kept (>=)
    a[1, 2] = a[1, 0] + 1.5    # too narrow
    mine = ops.remove_small_boxes(a, 2.0)
    ref = tv.ops.remove_small_boxes(torch.tensor(a), 2.0)
    assert mine.dtype == np.int64 and 0 in mine.data and 1 not in mine.data
    np.testing.assert_array_equal(mine.data, ref.numpy())


# ------------------------------------------------------------------ NMS
def _nms_case(rng, n, dtype, tied=False):
    b = _boxes(rng, n, size=30.0).astype(dtype)
    s = rng.random(n).astype(dtype)
    if tied:
        s = np.round(s * 4).astype(dtype) / 4  # many equal scores: the stable sort decides
    return b, s


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1 / 3])
def test_nms_matches_the_kernel(threshold, dtype):
    rng = np.random.default_rng(4)
    for tied in (False, True):
        b, s = _nms_case(rng, 60, dtype, tied)
        ref = nms_reference(torch.tensor(b), torch.tensor(s), threshold)
        np.testing.assert_array_equal(ops.nms(b, s, threshold).data, ref.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_nms_at_the_threshold_compares_as_the_kernel(dtype):
    """IoU exactly 0.5 at threshold 0.5 keeps both; IoU 1/3 in float32 (0.33333334) exceeds the double 1/3."""
    b = np.array([[0, 0, 3, 1], [1, 0, 4, 1], [10, 0, 12, 1], [11, 0, 13, 1]], dtype=dtype)
    s = np.array([0.9, 0.8, 0.7, 0.6], dtype=dtype)
    for threshold in (0.5, 1 / 3):
        ref = nms_reference(torch.tensor(b), torch.tensor(s), threshold)
        np.testing.assert_array_equal(ops.nms(b, s, threshold).data, ref.numpy())
    assert len(ops.nms(b, s, 0.5)) == 4
    assert len(ops.nms(b, s, 1 / 3)) == (2 if dtype == np.float32 else 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batched_nms_matches_torchvisions_offset_trick(dtype, monkeypatch):
    """torchvision's own batched_nms code paths around the kernel reference: the coordinate-offset trick
    exactly (one nms over shifted boxes, same stable order), per-class nms (vanilla) as a set."""
    monkeypatch.setattr(tv_boxes, "nms", nms_reference)
    rng = np.random.default_rng(5)
    for tied in (False, True):
        b, s = _nms_case(rng, 80, dtype, tied)
        idxs = rng.integers(0, 4, 80)
        mine = ops.batched_nms(b, s, idxs, 0.4).data
        bt, st, it = torch.tensor(b), torch.tensor(s), torch.tensor(idxs)
        np.testing.assert_array_equal(mine, tv_boxes._batched_nms_coordinate_trick(bt, st, it, 0.4).numpy())
        assert set(mine.tolist()) == set(tv_boxes._batched_nms_vanilla(bt, st, it, 0.4).tolist())


# ------------------------------------------------------------------ BoxCoder and anchors
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0)])
def test_box_coder_matches_torchvision(weights, dtype):
    rng = np.random.default_rng(3)
    gt, anchors = _boxes(rng, 9), _boxes(rng, 9)
    coder, ref = BoxCoder(weights), tv_utils.BoxCoder(weights)
    _compare(coder.encode_single, ref.encode_single, [gt, anchors], dtype)
    codes = rng.standard_normal((9, 12)) * 0.5
    codes[0, 2] = 60.0  # past the exp clip: no gradient through it, in both
    _compare(coder.decode_single, ref.decode_single, [codes, anchors], dtype)


def test_anchors_match_torchvision():
    sizes, ratios = ((16, 24), (32, 48, 64)), ((0.25, 0.5, 1.0, 2.0, 4.0), (0.5, 1.0, 2.0))
    gen, ref = AnchorGenerator(sizes, ratios), tv_anchors.AnchorGenerator(sizes, ratios)
    for mine, cell in zip(gen.cell_anchors, ref.cell_anchors):
        np.testing.assert_array_equal(mine.data, cell.numpy())
    grids, strides = [(6, 5), (3, 3)], [(8, 8), (16, 14)]
    expected = ref.grid_anchors(grids, [[torch.tensor(sh), torch.tensor(sw)] for sh, sw in strides])
    for mine, want in zip(gen.grid_anchors(grids, strides), expected):
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine.data, want.numpy())


# ------------------------------------------------------------------ smooth_l1_loss
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.0, 1 / 9, 0.5, 1.0, 2.5])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_l1_loss_matches_torch(beta, reduction, dtype):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 5)) * 2, rng.standard_normal((6, 5)) * 2
    x[0, :2] = y[0, :2]  # d = 0: sign(0) = 0 for beta = 0
    x[1, :2] = y[1, :2] + [beta, -beta]  # |d| = beta: the linear branch, in both
    _compare(lambda a, b: nn.functional.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
             lambda a, b: torch.nn.functional.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y], dtype)
    _compare(lambda a, b: nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b),
             lambda a, b: torch.nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b), [x, y], dtype)


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True), (False, True)])
def test_smooth_l1_loss_legacy_reduction_arguments(size_average, reduce):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    mine = nn.functional.smooth_l1_loss(x, y, size_average=size_average, reduce=reduce, beta=0.5)
    ref = torch.nn.functional.smooth_l1_loss(torch.tensor(x), torch.tensor(y), size_average=size_average,
                                             reduce=reduce, beta=0.5)
    np.testing.assert_allclose(mine.data, ref.numpy(), rtol=1e-12)


# ------------------------------------------------------------------ roi_align
def _rois(rng, k, n_images, h_img, w_img):
    """k RoIs inside an h_img x w_img image (so every RoIAlign sample lies in [-1, H] x [-1, W], where
    torchvision's Python _roi_align and its kernel agree), plus the whole image and a sub-pixel box."""
    xy = rng.uniform(0, 0.6, (k, 2)) * [w_img, h_img]
    wh = rng.uniform(0.05, 0.4, (k, 2)) * [w_img, h_img]
    rois = np.concatenate([rng.integers(0, n_images, (k, 1)), xy, xy + wh], axis=1)
    rois[0, 1:] = [0, 0, w_img, h_img]
    rois[1, 1:] = [2.0, 2.0, 2.5, 2.5]  # smaller than a feature pixel (clamped to 1 unless aligned)
    return rois


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 1, 2])
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25])
def test_roi_align_matches_torchvision(scale, sampling_ratio, aligned, dtype):
    rng = np.random.default_rng(6)
    feats = rng.standard_normal((2, 3, 9, 11))
    r = _rois(rng, 7, 2, 9 / scale, 11 / scale).astype(dtype)
    output_size = (3, 3) if scale != 0.5 else (2, 4)
    ref = roi_align_reference()
    _compare(lambda f: ops.roi_align(f, r, output_size, scale, sampling_ratio, aligned),
             lambda f: ref(f, torch.tensor(r), scale, *output_size, sampling_ratio, aligned), [feats], dtype)


# ------------------------------------------------------------------ roi_pool
def _pool_rois(rng, k, n_images, h_img, w_img):
    """Random RoIs plus the kernel's corner cases: the whole image, half-pixel edges (rounding away from
    zero, also at -0.5), a zero-size box (one pixel by "+1"), a box past the map (empty bins)."""
    rois = _rois(rng, k, n_images, h_img, w_img)
    rois[2, 1:] = [0.5, 1.5, 2.5, 4.5]
    rois[3, 1:] = [-0.5, -2.5, 3.0, 3.0]
    rois[4, 1:] = [5.0, 3.0, 5.0, 3.0]
    rois[5, 1:] = [w_img + 4, 1.0, w_img + 20, h_img + 9]
    return rois


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25])
@pytest.mark.parametrize("output_size", [(2, 2), (3, 4)])
@pytest.mark.parametrize("ties", [False, True])
def test_roi_pool_matches_the_kernel(ties, output_size, scale, dtype):
    rng = np.random.default_rng(7)
    feats = rng.standard_normal((2, 3, 9, 11))
    if ties:
        feats = np.round(feats)  # equal values in every bin: the first maximum (row-major) wins
    r = _pool_rois(rng, 9, 2, 9 / scale, 11 / scale).astype(dtype)
    _compare(lambda f: ops.roi_pool(f, r, output_size, scale),
             lambda f: roi_pool_reference(f, torch.tensor(r), scale, *output_size)[0], [feats], dtype)


def test_roi_pool_routes_like_the_kernel_and_skips_minus_inf():
    """The argmax itself (not only its value), with -inf and -FLT_MAX features (nothing above -FLT_MAX:
    the bin gives -FLT_MAX and no gradient), in float32 and float64."""
    from nabla.vision.roi_pool import _argmax_routes
    rng = np.random.default_rng(8)
    for dtype in DTYPES:
        feats = np.round(rng.standard_normal((2, 2, 7, 8)) * 2).astype(dtype)
        feats[feats < -2] = -np.inf
        feats[0, 0, :3, :3] = -FLT_MAX
        r = _pool_rois(rng, 8, 2, 7.0, 8.0).astype(dtype)
        r[6, 1:] = [0, 0, 2, 2]
        values, routes = _argmax_routes(feats, r, (2, 3), 1.0)
        ref, args = roi_pool_reference(torch.tensor(feats), torch.tensor(r), 1.0, 2, 3)
        np.testing.assert_array_equal(routes, args.numpy())
        np.testing.assert_array_equal(values, ref.numpy())
