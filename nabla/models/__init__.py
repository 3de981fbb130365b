"""The model zoo, one file per family, each built only from nabla.nn; registered for ``nabla train``."""
from .registry import register_model, build_model, get_model_entry, model_names  # noqa: F401
from .regression import LinearRegression, SoftmaxRegression  # noqa: F401
from .mlp import MLP  # noqa: F401
