"""Differentiable primitives, one family a file.  Importing a family attaches its Tensor methods.

Each family module lists its public functions in ``__all__``; they are re-exported here and as
``nabla.<name>``.
"""
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
from .conv import *  # noqa: F401,F403,E402
from .pool import *  # noqa: F401,F403,E402
from .upsample import *  # noqa: F401,F403,E402
from .lrn import *  # noqa: F401,F403,E402
from .recurrent import *  # noqa: F401,F403
from . import linear as _linear, embedding as _embedding  # noqa: F401,E402  (nn.functional's: no nabla.* names)
