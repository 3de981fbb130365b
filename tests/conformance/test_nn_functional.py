"""nabla.nn.functional against torch.nn.functional: values and gradients, float32 and float64."""
from tests.nn.db_nn import OPS
from tests.ops.opinfo import conformance_test

test_matches_torch = conformance_test(OPS)
