import pytest

from .helpers import MNIST5K, skip_unless_dataset


@pytest.fixture
def mnist5k():
    """Skips the test where MNIST-5k is not installed."""
    skip_unless_dataset(*MNIST5K)
