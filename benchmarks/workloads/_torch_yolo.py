"""nabla's YOLO v1 (nabla/models/yolo.py, nabla/vision/yolo.py) written in PyTorch for the ``yolo_train_b64``
workload: the same modules under the same parameter names, the same grid outputs, the same assignment of
the ground truth to cells and responsible predictors (one object per cell, the largest; the predictor whose
current box has the highest IoU, the first on ties) and the same four sum-squared terms divided by the
batch size.  Vectorised over the batch: no loop over images, boxes or cells, as nabla's.
"""
from __future__ import annotations

from collections import OrderedDict


def build(torch, widths, in_channels: int, boxes_per_cell: int, num_classes: int):
    nn = torch.nn

    def block(c_in, c_out):
        return nn.Sequential(OrderedDict([("conv", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
                                          ("bn", nn.BatchNorm2d(c_out)), ("act", nn.LeakyReLU(0.1))]))

    class YOLO(nn.Module):
        def __init__(self):
            super().__init__()
            layers, c = OrderedDict(), in_channels
            for i, w in enumerate(widths):
                layers[f"conv{i + 1}"] = block(c, w)
                if i < 3:
                    layers[f"pool{i + 1}"] = nn.MaxPool2d(2, 2)
                c = w
            self.backbone = nn.Sequential(layers)
            self.head = nn.Conv2d(c, boxes_per_cell * 5 + num_classes, 1)

        def forward(self, images):
            out = self.head(self.backbone(images)).permute(0, 2, 3, 1)
            n, s_h, s_w, _ = out.shape
            nb = boxes_per_cell * 5
            boxes = out[..., :nb].sigmoid().reshape(n, s_h, s_w, boxes_per_cell, 5)
            return boxes[..., :4], boxes[..., 4], out[..., nb:].softmax(-1)

    return YOLO()


def _paired_iou(a, b):
    iw = (a[..., 2].minimum(b[..., 2]) - a[..., 0].maximum(b[..., 0])).clamp(min=0)
    ih = (a[..., 3].minimum(b[..., 3]) - a[..., 1].maximum(b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    union = area_a + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return inter / union.where(union > 0, union.new_ones(()))


def targets(torch, params, boxes, labels, image, size, num_classes):
    """(obj, box, conf, cls, cell) target tensors of the batch; params (N, S_h, S_w, B, 4) detached."""
    n, s_h, s_w, nb = params.shape[:4]
    h, w = size
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 * (s_w / w), (boxes[:, 1] + boxes[:, 3]) / 2 * (s_h / h)
    col, row = cx.floor().clamp(0, s_w - 1).long(), cy.floor().clamp(0, s_h - 1).long()
    # one object per cell, the largest (the later on equal areas): sort by area, then stably by cell
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    flat = (image * s_h + row) * s_w + col
    by_area = torch.sort(area, stable=True).indices
    order = by_area[torch.sort(flat[by_area], stable=True).indices]
    ordered = flat[order]
    last = torch.ones(len(order), dtype=torch.bool)
    last[:-1] = ordered[1:] != ordered[:-1]
    keep = order[last]
    boxes, labels, image, row, col, cx, cy = (t[keep] for t in (boxes, labels, image, row, col, cx, cy))
    size_rel = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0) / boxes.new_tensor([w, h])
    goal = torch.stack((cx - col, cy - row, size_rel[:, 0].sqrt(), size_rel[:, 1].sqrt()), dim=1)
    p = params[image, row, col]                                         # (M, B, 4)
    pcx = (col[:, None] + p[..., 0]) * (w / s_w)
    pcy = (row[:, None] + p[..., 1]) * (h / s_h)
    pw, ph = p[..., 2].square() * w, p[..., 3].square() * h
    pred = torch.stack((pcx - pw / 2, pcy - ph / 2, pcx + pw / 2, pcy + ph / 2), dim=-1)
    iou = _paired_iou(pred, boxes[:, None, :])
    resp = iou.argmax(dim=1)                                            # the first maximum on ties
    obj, conf = params.new_zeros((n, s_h, s_w, nb)), params.new_zeros((n, s_h, s_w, nb))
    box = params.new_zeros((n, s_h, s_w, nb, 4))
    cls, cell = params.new_zeros((n, s_h, s_w, num_classes)), params.new_zeros((n, s_h, s_w))
    obj[image, row, col, resp] = 1
    box[image, row, col, resp] = goal.to(box.dtype)
    conf[image, row, col, resp] = iou[torch.arange(len(resp)), resp].to(conf.dtype)
    cls[image, row, col, labels] = 1
    cell[image, row, col] = 1
    return obj, box, conf, cls, cell


def loss(model, torch, images, target_list, num_classes, lambda_coord=5.0, lambda_noobj=0.5):
    """The four terms of YOLO v1's loss (a dict, as nabla's ``yolo_v1_loss``)."""
    params, confidence, probs = model(images)
    boxes = torch.cat([t["boxes"] for t in target_list])
    labels = torch.cat([t["labels"] for t in target_list])
    image = torch.repeat_interleave(torch.arange(len(target_list)),
                                    torch.tensor([len(t["labels"]) for t in target_list]))
    with torch.no_grad():
        obj, box, conf, cls, cell = targets(torch, params.detach(), boxes, labels, image,
                                            tuple(images.shape[-2:]), num_classes)
    scale = 1.0 / params.shape[0]
    return {"loss_coord": (((params - box).square().sum(-1) * obj).sum()) * (lambda_coord * scale),
            "loss_obj": ((confidence - conf).square() * obj).sum() * scale,
            "loss_noobj": (confidence.square() * (1 - obj)).sum() * (lambda_noobj * scale),
            "loss_class": ((probs - cls).square().sum(-1) * cell).sum() * scale}
