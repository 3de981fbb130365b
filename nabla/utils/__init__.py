"""nabla.utils: helpers around models (summary: layer-by-layer shapes, parameters, multiply-accumulates),
and ``nabla.utils.data``, PyTorch's name for ``nabla.data`` (the same modules, not copies)."""
import sys

from .. import data
from .summary import summary, ModelSummary, LayerRow  # noqa: F401

# torch.utils.data is where PyTorch code imports DataLoader from: nabla.utils.data is nabla.data itself, and
# each of its loaded submodules answers to the alias too (nabla.utils.data.sampler is nabla.data.sampler)
for _name, _module in list(sys.modules.items()):
    if _name == data.__name__ or _name.startswith(data.__name__ + "."):
        sys.modules[__name__ + _name[len("nabla"):]] = _module  # nabla.data.x -> nabla.utils.data.x

__all__ = ["summary", "ModelSummary", "LayerRow", "data"]
