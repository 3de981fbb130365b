"""SyncBatchNorm: batch norm whose training statistics span the batches of every data-parallel process.

Under data parallelism each process normalises with its own batch's statistics by default (as PyTorch's
DistributedDataParallel does), so with N processes of batch B a BatchNorm layer sees B samples, not N*B.
Small per-process batches make those statistics noisy; ``SyncBatchNorm`` all-reduces them (see
``nabla.ops.sync_batch_norm``), so the layer computes what one process with the whole batch would.  In one
process, or in eval mode (running statistics), it is plain batch norm.  PyTorch's name and signature;
``process_group`` is accepted for compatibility and must be None (the whole MPI world).

``SyncBatchNorm.convert_sync_batchnorm(model)`` replaces every BatchNorm1d/2d/3d of a model by a
SyncBatchNorm holding the same parameters and running statistics (the model is changed in place and
returned), as ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``.
"""
from __future__ import annotations

import numpy as np

from .. import comm
from ..autograd.tensor import Tensor
from ..ops.sync_batch_norm import sync_batch_norm
from .module import Module
from .norm import _BatchNorm


class SyncBatchNorm(_BatchNorm):
    _shape_text = "(N, C, *)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, dtype=None):
        if process_group is not None:
            raise ValueError("SyncBatchNorm: process_group must be None: nabla synchronises over every MPI rank")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)

    def _check_input(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_features:
            raise ValueError(f"{self._short_repr()}: expected an (N, {self.num_features}, *) input, got input of "
                             f"shape {tuple(input.shape)}")

    def forward(self, input):
        if not self.training or comm.world_size() == 1:
            return super().forward(input)   # plain batch norm: the same numbers
        self._check_input(input)
        factor = self._momentum_factor()
        c, dt = self.num_features, input.data.dtype
        weight = self.weight if self.affine else Tensor(np.ones(c, dtype=dt))
        bias = self.bias if self.affine else Tensor(np.zeros(c, dtype=dt))
        return sync_batch_norm(input, weight, bias, self.running_mean, self.running_var, factor, self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm layer replaced by a SyncBatchNorm with its state (in place)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            held = module.weight if module.affine else module.running_mean
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                       process_group, dtype=None if held is None else held.data.dtype)
            sync.load_state_dict(module.state_dict())
            sync.train(module.training)
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                converted = cls.convert_sync_batchnorm(child, process_group)
                if converted is not child:
                    module._modules[name] = converted
        return module
