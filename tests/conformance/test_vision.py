"""nabla.vision against PyTorch-written copies of torchvision's pure-Python box code (torchvision itself is not
installed beside this torch: the references below follow torchvision/ops/boxes.py, _box_convert.py and
models/detection/_utils.py, anchor_utils.py formula by formula), and nabla's smooth_l1_loss against
torch.nn.functional.smooth_l1_loss.  Values and gradients, float32 and float64."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.vision import AnchorGenerator, BoxCoder, ops

torch = pytest.importorskip("torch")


# ------------------------------------------------------------------ torchvision's formulas, in torch
def tv_box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _tv_inter_union(boxes1, boxes2):
    area1, area2 = tv_box_area(boxes1), tv_box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2 - inter


def tv_box_iou(boxes1, boxes2):
    inter, union = _tv_inter_union(boxes1, boxes2)
    return inter / union


def tv_generalized_box_iou(boxes1, boxes2):
    inter, union = _tv_inter_union(boxes1, boxes2)
    iou = inter / union
    lti = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rbi = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return iou - (areai - union) / areai


def _tv_xyxy_to_xywh(b):
    x1, y1, x2, y2 = b.unbind(-1)
    return torch.stack((x1, y1, x2 - x1, y2 - y1), dim=-1)


def _tv_xywh_to_xyxy(b):
    x, y, w, h = b.unbind(-1)
    return torch.stack([x, y, x + w, y + h], dim=-1)


def _tv_xyxy_to_cxcywh(b):
    x1, y1, x2, y2 = b.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def _tv_cxcywh_to_xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def tv_box_convert(boxes, in_fmt, out_fmt):
    if in_fmt == out_fmt:
        return boxes.clone()
    if in_fmt != "xyxy" and out_fmt != "xyxy":
        boxes = {"xywh": _tv_xywh_to_xyxy, "cxcywh": _tv_cxcywh_to_xyxy}[in_fmt](boxes)
        in_fmt = "xyxy"
    if in_fmt == "xyxy":
        return {"xywh": _tv_xyxy_to_xywh, "cxcywh": _tv_xyxy_to_cxcywh}[out_fmt](boxes)
    return {"xywh": _tv_xywh_to_xyxy, "cxcywh": _tv_cxcywh_to_xyxy}[in_fmt](boxes)


def tv_clip_boxes_to_image(boxes, size):
    dim = boxes.dim()
    height, width = size
    bx = boxes[..., 0::2].clamp(min=0, max=width)
    by = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((bx, by), dim=dim).reshape(boxes.shape)


def tv_encode_boxes(reference_boxes, proposals, weights):
    wx, wy, ww, wh = weights
    px1, py1, px2, py2 = (proposals[:, i].unsqueeze(1) for i in range(4))
    rx1, ry1, rx2, ry2 = (reference_boxes[:, i].unsqueeze(1) for i in range(4))
    ex_w, ex_h = px2 - px1, py2 - py1
    ex_x, ex_y = px1 + 0.5 * ex_w, py1 + 0.5 * ex_h
    gt_w, gt_h = rx2 - rx1, ry2 - ry1
    gt_x, gt_y = rx1 + 0.5 * gt_w, ry1 + 0.5 * gt_h
    return torch.cat((wx * (gt_x - ex_x) / ex_w, wy * (gt_y - ex_y) / ex_h,
                      ww * torch.log(gt_w / ex_w), wh * torch.log(gt_h / ex_h)), dim=1)


def tv_decode_single(rel_codes, boxes, weights, clip=math.log(1000.0 / 16)):
    boxes = boxes.to(rel_codes.dtype)
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    ctr_x = boxes[:, 0] + 0.5 * widths
    ctr_y = boxes[:, 1] + 0.5 * heights
    wx, wy, ww, wh = weights
    dx = rel_codes[:, 0::4] / wx
    dy = rel_codes[:, 1::4] / wy
    dw = torch.clamp(rel_codes[:, 2::4] / ww, max=clip)
    dh = torch.clamp(rel_codes[:, 3::4] / wh, max=clip)
    pcx = dx * widths[:, None] + ctr_x[:, None]
    pcy = dy * heights[:, None] + ctr_y[:, None]
    pw = torch.exp(dw) * widths[:, None]
    ph = torch.exp(dh) * heights[:, None]
    cw, ch = 0.5 * pw, 0.5 * ph
    return torch.stack((pcx - cw, pcy - ch, pcx + cw, pcy + ch), dim=2).flatten(1)


def tv_generate_anchors(scales, aspect_ratios, dtype=torch.float32):
    scales = torch.as_tensor(scales, dtype=dtype)
    aspect_ratios = torch.as_tensor(aspect_ratios, dtype=dtype)
    h_ratios = torch.sqrt(aspect_ratios)
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).view(-1)
    hs = (h_ratios[:, None] * scales[None, :]).view(-1)
    return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()


def tv_grid_anchors(grid_sizes, strides, cell_anchors):
    anchors = []
    for (gh, gw), (sh, sw), base in zip(grid_sizes, strides, cell_anchors):
        shifts_x = torch.arange(0, gw, dtype=torch.int32) * sw
        shifts_y = torch.arange(0, gh, dtype=torch.int32) * sh
        shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
        shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
        shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
        anchors.append((shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
    return anchors


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


DTYPES = [np.float32, np.float64]


# ------------------------------------------------------------------ box ops
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["box_iou", "generalized_box_iou"])
def test_pairwise_iou_matches_torchvision(name, dtype):
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 13), _boxes(rng, 7)
    b[:3] = a[:3]  # identical pairs (ties in max/min: the gradient splits evenly in both)
    nb_fn = getattr(ops, name)
    tv_fn = {"box_iou": tv_box_iou, "generalized_box_iou": tv_generalized_box_iou}[name]
    _compare(nb_fn, tv_fn, [a, b], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmts", [(i, o) for i in ("xyxy", "xywh", "cxcywh") for o in ("xyxy", "xywh", "cxcywh")])
def test_box_convert_matches_torchvision(fmts, dtype):
    rng = np.random.default_rng(1)
    a = _boxes(rng, 12).reshape(3, 4, 4)
    _compare(lambda x: ops.box_convert(x, *fmts), lambda t: tv_box_convert(t, *fmts), [a], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_area_and_clip_match_torchvision(dtype):
    rng = np.random.default_rng(2)
    a = _boxes(rng, 10) - 10.0
    _compare(ops.box_area, tv_box_area, [a], dtype)
    _compare(lambda x: ops.clip_boxes_to_image(x, (25, 30)), lambda t: tv_clip_boxes_to_image(t, (25, 30)),
             [a], dtype)


# ------------------------------------------------------------------ BoxCoder
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0)])
def test_box_coder_matches_torchvision(weights, dtype):
    rng = np.random.default_rng(3)
    gt, anchors = _boxes(rng, 9), _boxes(rng, 9)
    coder = BoxCoder(weights)
    _compare(coder.encode_single, lambda r, p: tv_encode_boxes(r, p, weights), [gt, anchors], dtype)
    codes = rng.standard_normal((9, 12)) * 0.5
    codes[0, 2] = 60.0  # past the exp clip: no gradient through it, in both
    _compare(coder.decode_single, lambda c, b: tv_decode_single(c, b, weights), [codes, anchors], dtype)


def test_anchors_match_torchvision():
    sizes, ratios = ((16, 24), (32, 48, 64)), ((0.25, 0.5, 1.0, 2.0, 4.0), (0.5, 1.0, 2.0))
    gen = AnchorGenerator(sizes, ratios)
    cells = [tv_generate_anchors(s, r) for s, r in zip(sizes, ratios)]
    for mine, ref in zip(gen.cell_anchors, cells):
        np.testing.assert_array_equal(mine.data, ref.numpy())
    grids, strides = [(6, 5), (3, 3)], [(8, 8), (16, 14)]
    for mine, ref in zip(gen.grid_anchors(grids, strides), tv_grid_anchors(grids, strides, cells)):
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine.data, ref.numpy())


# ------------------------------------------------------------------ smooth_l1_loss
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.0, 1 / 9, 0.5, 1.0, 2.5])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_l1_loss_matches_torch(beta, reduction, dtype):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 5)) * 2, rng.standard_normal((6, 5)) * 2
    x[0, :2] = y[0, :2]  # d = 0: sign(0) = 0 for beta = 0
    _compare(lambda a, b: nn.functional.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
             lambda a, b: torch.nn.functional.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y], dtype)
    _compare(lambda a, b: nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b),
             lambda a, b: torch.nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b), [x, y], dtype)


# ------------------------------------------------------------------ roi_align
def tv_roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
    """torchvision's pure-PyTorch _roi_align (ops/roi_align.py) with explicit broadcasting in place of
    functorch dims, [K, C, PH, PW, IY, IX], plus its C++ kernel's rule that a sample outside [-1, H] x [-1, W]
    counts 0 (the Python copy lacks it; the boxes below keep all samples inside anyway)."""
    _, channels, height, width = input.size()
    ph, pw = torch.arange(pooled_height), torch.arange(pooled_width)
    batch = rois[:, 0].int()
    offset = 0.5 if aligned else 0.0
    x0, y0 = rois[:, 1] * spatial_scale - offset, rois[:, 2] * spatial_scale - offset
    rw = rois[:, 3] * spatial_scale - offset - x0
    rh = rois[:, 4] * spatial_scale - offset - y0
    if not aligned:
        rw, rh = torch.clamp(rw, min=1.0), torch.clamp(rh, min=1.0)
    bh, bw = rh / pooled_height, rw / pooled_width
    exact = sampling_ratio > 0
    gh = sampling_ratio if exact else torch.ceil(rh / pooled_height)
    gw = sampling_ratio if exact else torch.ceil(rw / pooled_width)
    if exact:
        count = max(gh * gw, 1)
        iy, ix = torch.arange(gh), torch.arange(gw)
        ymask = xmask = None
    else:
        count = torch.clamp(gh * gw, min=1)
        iy, ix = torch.arange(height), torch.arange(width)
        ymask, xmask = iy[None, :] < gh[:, None], ix[None, :] < gw[:, None]
    K = lambda t: t[:, None, None] if isinstance(t, torch.Tensor) else t  # noqa: E731
    y = K(y0) + ph[None, :, None] * K(bh) + (iy[None, None, :] + 0.5).to(input.dtype) * K(bh / gh)  # [K, PH, IY]
    x = K(x0) + pw[None, :, None] * K(bw) + (ix[None, None, :] + 0.5).to(input.dtype) * K(bw / gw)  # [K, PW, IX]
    yin, xin = (y >= -1) & (y <= height), (x >= -1) & (x <= width)
    y, x = y.clamp(min=0), x.clamp(min=0)
    y_low, x_low = y.int(), x.int()
    y_high = torch.where(y_low >= height - 1, height - 1, y_low + 1)
    y_low = torch.where(y_low >= height - 1, height - 1, y_low)
    x_high = torch.where(x_low >= width - 1, width - 1, x_low + 1)
    x_low = torch.where(x_low >= width - 1, width - 1, x_low)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx

    def at(yi, xi):
        if ymask is not None:
            yi = torch.where(ymask[:, None, :], yi, 0)
            xi = torch.where(xmask[:, None, :], xi, 0)
        return input[batch[:, None, None, None, None, None], torch.arange(channels)[None, :, None, None, None, None],
                     yi[:, None, :, None, :, None], xi[:, None, None, :, None, :]]

    def outer(a, b):
        return a[:, None, :, None, :, None] * b[:, None, None, :, None, :]

    val = (outer(hy, hx) * at(y_low, x_low) + outer(hy, lx) * at(y_low, x_high)
           + outer(ly, hx) * at(y_high, x_low) + outer(ly, lx) * at(y_high, x_high))
    val = torch.where(outer(yin, xin), val, 0)
    if not exact:
        val = torch.where(ymask[:, None, None, None, :, None], val, 0)
        val = torch.where(xmask[:, None, None, None, None, :], val, 0)
    out = val.sum((-1, -2))
    return out / (count[:, None, None, None] if isinstance(count, torch.Tensor) else count)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2, 1])
@pytest.mark.parametrize("output_size,scale", [((3, 3), 0.5), ((2, 4), 0.25)])
def test_roi_align_matches_torchvision(output_size, scale, sampling_ratio, aligned, dtype):
    rng = np.random.default_rng(6)
    feats = rng.standard_normal((2, 3, 9, 11))
    h_img, w_img = 9 / scale, 11 / scale
    xy = rng.uniform(0, 0.6, (7, 2)) * [w_img, h_img]
    wh = rng.uniform(0.05, 0.4, (7, 2)) * [w_img, h_img]
    rois = np.concatenate([rng.integers(0, 2, (7, 1)), xy, xy + wh], axis=1)
    rois[0, 1:] = [0, 0, w_img, h_img]           # the whole map
    rois[1, 1:] = [2.0, 2.0, 2.5, 2.5]           # smaller than a feature pixel (clamped to 1 unless aligned)
    r = rois.astype(dtype)
    _compare(lambda f: ops.roi_align(f, r, output_size, scale, sampling_ratio, aligned),
             lambda f: tv_roi_align(f, torch.tensor(r), scale, *output_size, sampling_ratio, aligned), [feats], dtype)
