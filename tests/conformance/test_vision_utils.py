"""nabla.vision.utils.make_grid against torchvision.utils.make_grid (torchvision 0.28.0 through the shim)."""
import numpy as np
import pytest

from nabla.vision.utils import make_grid

from .torchvision_shim import import_torchvision

torch = pytest.importorskip("torch")
tv = import_torchvision()
tv_utils = pytest.importorskip("torchvision.utils")


@pytest.mark.parametrize("b, c, nrow, padding, normalize, value_range, scale_each, pad_value", [
    (7, 1, 3, 2, False, None, False, 0.0), (8, 3, 8, 0, False, None, False, 0.0), (5, 1, 2, 1, True, None, False, 0.5),
    (6, 3, 4, 2, True, (-1.0, 1.0), False, 1.0), (4, 1, 2, 3, True, None, True, 0.0), (1, 1, 8, 2, False, None, False, 0.0)])
def test_make_grid_matches_torchvision(b, c, nrow, padding, normalize, value_range, scale_each, pad_value):
    x = np.random.default_rng(b + c).normal(size=(b, c, 5, 6)).astype(np.float32)
    ours = make_grid(x, nrow=nrow, padding=padding, normalize=normalize, value_range=value_range,
                     scale_each=scale_each, pad_value=pad_value)
    ref = tv_utils.make_grid(torch.from_numpy(x), nrow=nrow, padding=padding, normalize=normalize,
                             value_range=value_range, scale_each=scale_each, pad_value=pad_value).numpy()
    if c == 1:     # torchvision repeats a grey batch to 3 channels; nabla keeps one
        assert np.array_equal(ref[0], ref[1]) and np.array_equal(ref[1], ref[2])
        ref = ref[:1]
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)
