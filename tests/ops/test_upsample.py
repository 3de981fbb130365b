from .db_upsample import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


# ---------------------------------------------------------------------------------------------- hand-written
import pytest  # noqa: E402

import nabla as nb  # noqa: E402


@pytest.mark.parametrize("call,exc,match", [
    (lambda: nb.interpolate(nb.randn(1, 1, 2, 2)), ValueError, "exactly one of size and scale_factor"),
    (lambda: nb.interpolate(nb.randn(1, 1, 2, 2), size=3, scale_factor=2), ValueError, "exactly one"),
    (lambda: nb.interpolate(nb.randn(1, 1, 2), size=3, mode="bilinear"), ValueError, "'bilinear' needs a 4-d"),
    (lambda: nb.interpolate(nb.randn(1, 1, 2, 2), size=3, align_corners=True), ValueError, "align_corners only"),
    (lambda: nb.interpolate(nb.randn(1, 1, 2, 2), size=3, mode="bicubic"), ValueError, "bicubic"),
    (lambda: nb.interpolate(nb.randn(2, 2), size=3), ValueError, r"3-d .* or 4-d"),
    (lambda: nb.local_response_norm(nb.randn(2, 3), 2), ValueError, "local_response_norm: expected an input of 3"),
])
def test_bad_input_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
