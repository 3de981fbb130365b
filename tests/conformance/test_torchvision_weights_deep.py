"""torchvision's ResNet-101 and ResNet-152 and nabla's of the same configuration: weights both ways (as arrays in
memory, 45-60M parameters: the shallower ResNets go through files), eval-mode outputs equal (rtol 1e-3, atol
1e-4, float32) on two 3x32x32 images (the stages end at 1x1; adaptive pooling; 10 classes); how is in
torchvision_weights_common.  The shallower ResNets, GoogLeNet and AlexNet: test_torchvision_weights.py."""
import importlib

import pytest

from . import torchvision_weights_common as common
from .torchvision_weights_common import both_ways, tv

weights_module = common.weights_module  # autouse: torch on one thread, the shared draws dropped at the end

resnet = importlib.import_module("nabla.models.resnet")


@pytest.mark.parametrize("name", ["resnet101", "resnet152"])
def test_deep_resnet_weights_both_ways(name, tmp_path):
    both_ways(lambda: getattr(tv.models, name)(num_classes=10), lambda: getattr(resnet, name)(num_classes=10),
              tmp_path, through_file=False)
