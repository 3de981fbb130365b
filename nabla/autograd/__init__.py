"""The engine: Tensor, Function, reverse-mode backward, grad modes, the functional API, numerical gradients."""
from .tensor import Tensor, from_numpy  # noqa: F401
from .function import Function  # noqa: F401
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from .engine import run_backward  # noqa: F401
from .functional import grad, vjp, jvp, jacobian, hessian, hvp  # noqa: F401,E402
from .numerical import numerical_grad, gradcheck, gradgradcheck, GradcheckError  # noqa: F401,E402
