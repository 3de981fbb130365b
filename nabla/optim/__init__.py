"""nabla.optim: optimizers (PyTorch's names, defaults and update rules) and learning-rate schedules.

    opt = nabla.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
"""
from .optimizer import Optimizer, required, set_num_threads, get_num_threads
from .sgd import SGD
from .adagrad import Adagrad, AdaGrad
from .rmsprop import RMSprop
from .adam import Adam, AdamW
from . import lr_scheduler

__all__ = ["Optimizer", "set_num_threads", "get_num_threads", "SGD", "Adagrad", "AdaGrad", "RMSprop", "Adam",
           "AdamW", "lr_scheduler"]
