"""OpInfo entries for nabla/ops/upsample.py (interpolate) and nabla/ops/lrn.py (local_response_norm)."""
import nabla as nb
from .opinfo import OpInfo, Sample, randn


def _F():
    import torch.nn.functional as F
    return F


def interpolate_samples(r):
    cases = [((1, 2, 3, 4), dict(scale_factor=2)),                                  # whole factor: broadcast path
             ((1, 2, 3, 4), dict(size=(5, 7))),
             ((1, 2, 5, 4), dict(size=(2, 3))),                                      # downsampling
             ((1, 2, 3, 4), dict(scale_factor=1.5)),
             ((1, 2, 3, 4), dict(scale_factor=(2, 0.5))),
             ((1, 2, 3, 3), dict(size=(5, 4), mode="nearest-exact")),
             ((1, 2, 3, 4), dict(scale_factor=2, mode="bilinear", align_corners=False)),
             ((1, 2, 3, 4), dict(size=(5, 7), mode="bilinear", align_corners=True)),
             ((1, 2, 4, 5), dict(size=(3, 2), mode="bilinear", align_corners=False)),
             ((1, 2, 3, 4), dict(scale_factor=1.7, mode="bilinear")),
             ((1, 2, 3, 4), dict(size=(1, 1), mode="bilinear", align_corners=True)),
             ((2, 2, 4), dict(scale_factor=2.5, mode="linear", align_corners=False)),
             ((2, 2, 4), dict(size=7, mode="linear", align_corners=True)),
             ((2, 2, 4), dict(size=6))]
    return [Sample((randn(r, *s),), kw, name=f"{s}-{kw}") for s, kw in cases]


def lrn_samples(r):
    cases = [((2, 5, 3, 3), dict(size=3)), ((1, 6, 2, 2), dict(size=2, alpha=0.5, beta=0.75, k=2.0)),
             ((2, 4, 5), dict(size=5, alpha=0.3, beta=0.5, k=1.0)), ((1, 3, 2, 2, 2), dict(size=2, alpha=0.4))]
    return [Sample((randn(r, *s),), kw, name=f"{s}-{kw}") for s, kw in cases]


OPS = [
    OpInfo("interpolate", nb.interpolate, lambda *a, **k: _F().interpolate(*a, **k), interpolate_samples),
    OpInfo("local_response_norm", nb.local_response_norm, lambda *a, **k: _F().local_response_norm(*a, **k),
           lrn_samples),
]
