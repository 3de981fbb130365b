from tests.ops.db_conv import OPS
from tests.ops.opinfo import conformance_test

test_matches_torch = conformance_test(OPS)
