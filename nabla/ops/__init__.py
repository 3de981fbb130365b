"""Differentiable primitives, one family a file.  Importing a family attaches its Tensor methods.

Each family module lists its public functions in ``__all__``; they are re-exported here and as
``nabla.<name>``.  ``linear`` and ``embedding`` list none: their functions are reached as
``nabla.nn.functional.linear`` / ``.embedding``, as in PyTorch.
"""
import sys

from .arithmetic import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .index import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403
from .lrn import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from . import linear as _linear, embedding as _embedding  # noqa: F401,E402

_FAMILIES = ("arithmetic", "shape", "linalg", "elementwise", "activation", "reduce", "index", "loss",
             "normalization", "dropout", "attention", "conv", "pool", "upsample", "lrn", "recurrent")
# the functions, not the family modules: ``from nabla.ops import *`` (and so ``nabla``) gets no module names
# (read from sys.modules: a family's name may be one of its functions here, e.g. dropout)
__all__ = [name for family in _FAMILIES for name in sys.modules[f"{__name__}.{family}"].__all__]
