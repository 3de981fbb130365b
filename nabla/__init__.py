"""nabla: a deep-learning framework written from first principles on NumPy, with PyTorch's names."""
from . import backend
from . import memory  # noqa: F401  (opt-in allocator tuning: nabla.memory.keep_freed_memory())
from .backend import (manual_seed, get_default_dtype, set_default_dtype, float16, float32, float64,  # noqa: F401
                      int8, int16, int32, int64, uint8, half, double, long, get_rng_state, set_rng_state)
from .backend import bool_ as bool  # noqa: F401,A001
from .autograd import Tensor, Function, no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from .creation import *  # noqa: F401,F403
from .serialization import save, load  # noqa: F401
from . import ops  # noqa: F401  (attaches Tensor methods)
from .ops import *  # noqa: F401,F403,E402
from . import autograd  # noqa: F401

__version__ = "0.1.0"
from . import viz  # noqa: F401,E402
from . import optim  # noqa: F401,E402
from . import nn  # noqa: F401,E402
from . import data  # noqa: F401,E402
from . import utils  # noqa: F401,E402
