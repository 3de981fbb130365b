"""nabla's Faster R-CNN registry defaults (nabla/models/faster_rcnn.py) as torchvision's own
``torchvision.models.detection.FasterRCNN``, for the ``faster_rcnn_train_b16`` workload.

Configured as nabla's model: the same backbone (conv3x3-BN-ReLU 16, 32, 64, 64, 64 with 2x2 max pools after
the first three; stride 8) under the same parameter names, anchors of sizes 14, 22 px and h/w ratios 1, 2, 4,
RPNHead(64, 6), 200 anchors before NMS and 50 proposals after it in training (200 / 30 at test), 256 anchors
and 64 RoIs sampled per image, RoIAlign 7x7 with sampling_ratio 2 and ``aligned=True`` (torchvision's
MultiScaleRoIAlign uses aligned=False, so the box head's pooler is replaced), TwoMLPHead(64*7*7, 256),
FastRCNNPredictor(256, 11).  torchvision's other defaults are nabla's too (IoU thresholds 0.7 / 0.3 and
0.5 / 0.5, positive fractions 0.5 / 0.25, box-coder weights (1, 1, 1, 1) and (10, 10, 5, 5), NMS 0.7).
The transform is replaced by one that only wraps the batch: nabla's detectors take [0, 1] images as they
are (no normalisation, no resizing), so torchvision's resize-to-the-same-size and normalise-by-(0, 1)
would be extra work nabla does not do.

Needs torchvision's compiled kernels (roi_align, nms): run the PyTorch side with
``--torch-python /work/venv-tv/bin/python`` (see detection_ops.py).
"""
from __future__ import annotations

import math
from collections import OrderedDict


def build(torch, tv, num_classes: int, widths=(16, 32, 64, 64, 64), options=None):
    """The FasterRCNN; ``options``: nabla registry options that change counts (rpn_pre_nms_top_n_train,
    rpn_post_nms_top_n_train, rpn_batch_size_per_image, box_batch_size_per_image)."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.image_list import ImageList
    from torchvision.models.detection.rpn import RPNHead
    nn, o = torch.nn, dict(options or {})

    layers, c = OrderedDict(), 1
    for i, w in enumerate(widths):
        layers[f"conv{i + 1}"] = nn.Conv2d(c, w, 3, padding=1, bias=False)
        layers[f"bn{i + 1}"] = nn.BatchNorm2d(w)
        layers[f"relu{i + 1}"] = nn.ReLU()
        if i < 3:
            layers[f"pool{i + 1}"] = nn.MaxPool2d(2)
        c = w
    backbone = nn.Sequential(layers)
    backbone.out_channels = c

    class AlignedRoIPool(nn.Module):
        """RoIAlign 7x7, sampling_ratio 2, aligned=True, the scale inferred as MultiScaleRoIAlign does."""
        def forward(self, features, proposals, image_shapes):
            x = features["0"]
            scale = 2.0 ** round(math.log2(x.shape[-2] / image_shapes[0][0]))
            return tv.ops.roi_align(x, proposals, 7, scale, 2, aligned=True)

    class WrapOnly(nn.Module):
        def forward(self, images, targets=None):
            return ImageList(images, [tuple(images.shape[-2:])] * len(images)), targets

        def postprocess(self, result, image_shapes, original_image_sizes):
            return result

    model = FasterRCNN(
        backbone, num_classes=None,
        rpn_anchor_generator=AnchorGenerator(((14, 22),), ((1.0, 2.0, 4.0),)), rpn_head=RPNHead(c, 6),
        rpn_pre_nms_top_n_train=o.get("rpn_pre_nms_top_n_train", 200),
        rpn_post_nms_top_n_train=o.get("rpn_post_nms_top_n_train", 50),
        rpn_pre_nms_top_n_test=200, rpn_post_nms_top_n_test=30,
        rpn_batch_size_per_image=o.get("rpn_batch_size_per_image", 256),
        box_batch_size_per_image=o.get("box_batch_size_per_image", 64),
        box_head=TwoMLPHead(c * 49, 256),
        box_predictor=FastRCNNPredictor(256, num_classes + 1), box_score_thresh=0.01)
    model.transform = WrapOnly()
    model.roi_heads.box_roi_pool = AlignedRoIPool()  # the constructor accepts only a MultiScaleRoIAlign
    return model


def rename(name: str) -> str:
    """nabla's parameter name -> torchvision's (its RPNHead's conv is a Conv2dNormActivation inside a Sequential)."""
    return name.replace("rpn.head.conv.", "rpn.head.conv.0.0.")
