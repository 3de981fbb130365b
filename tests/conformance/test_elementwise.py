"""nabla's elementwise ops against PyTorch (values and gradients, float32 and float64)."""
from tests.ops.db_elementwise import OPS
from tests.ops.opinfo import conformance_test

test_matches_torch = conformance_test(OPS)
