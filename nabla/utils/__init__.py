"""nabla.utils: helpers around models (summary: layer-by-layer shapes, parameters, multiply-accumulates)."""
from .summary import summary, ModelSummary, LayerRow  # noqa: F401

__all__ = ["summary", "ModelSummary", "LayerRow"]
