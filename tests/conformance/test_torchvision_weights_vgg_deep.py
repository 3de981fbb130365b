"""torchvision's VGG-16 and VGG-19, with and without BatchNorm, and nabla's of the same configuration: weights
both ways, eval-mode outputs equal (rtol 1e-3, atol 1e-4, float32) on two 3x32x32 images (VGG ends in adaptive
pooling to 7x7, so its classifier is full size at any input; 10 classes).  The state dicts (138-144M
parameters) go as arrays in memory and the classifier's draws are shared (torchvision_weights_common).
VGG-11 and VGG-13: test_torchvision_weights_vgg.py (one file each stays under 20 s)."""
import importlib

import pytest

from . import torchvision_weights_common as common
from .torchvision_weights_common import both_ways, tv

weights_module = common.weights_module  # autouse: torch on one thread, the shared draws dropped at the end

vgg = importlib.import_module("nabla.models.vgg")


@pytest.mark.parametrize("name", ["vgg16", "vgg16_bn", "vgg19", "vgg19_bn"])
def test_vgg_weights_both_ways(name, tmp_path):
    both_ways(lambda: getattr(tv.models, name)(num_classes=10, init_weights=False),
              lambda: getattr(vgg, name)(num_classes=10, init_weights=False), tmp_path, through_file=False)
