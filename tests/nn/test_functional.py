"""gradcheck and gradgradcheck (float64) for every entry of tests/nn/db_nn.py."""
from .db_nn import OPS
from tests.ops.opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)
