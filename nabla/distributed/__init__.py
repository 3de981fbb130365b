"""Data-parallel training over MPI (mpi4py): the same model on every process, each process its own shard of
each batch, gradients averaged with Allreduce before every optimizer step.

    mpiexec -n 4 nabla train resnet20 --dataset cifar10      # the Trainer, data-parallel
    nabla train resnet20 --dataset cifar10 --nproc 4         # the same; nabla starts mpiexec itself

For a loop of one's own (``import nabla.distributed as dist``, as ``torch.distributed``)::

    dist.init()                                   # one process without mpiexec: rank 0 of 1, no MPI
    model = dist.DistributedDataParallel(model)   # rank 0's weights everywhere; gradients averaged in backward
    sampler = dist.DistributedSampler(train_set, shuffle=True, seed=0)
    loader = DataLoader(train_set, batch_size=B, sampler=sampler)   # B: the per-process batch
    for epoch in range(E):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()

``all_reduce``, ``broadcast`` and ``barrier`` work on Tensors and NumPy arrays in place; ``rank()`` and
``world_size()`` say where this process stands (``examples/ddp_mnist.py`` is a whole script).  The array-level
communicator underneath is ``nabla.comm``; ``nn.SyncBatchNorm`` reduces batch statistics over the ranks.
This package sits above ``nabla.train``: ``DDPStrategy`` is the Trainer's data parallelism, ``training``
runs ``nabla train`` under mpiexec, ``launcher`` is ``--nproc``.
"""
from ..comm import MPIUnavailableError, all_gather_object, broadcast_object  # noqa: F401
from ..data.distributed_sampler import DistributedSampler  # noqa: F401
from .collectives import all_reduce, barrier, broadcast, init, is_initialized, rank, world_size  # noqa: F401
from .ddp import DistributedDataParallel  # noqa: F401
from .strategy import DDPStrategy  # noqa: F401

get_rank, get_world_size = rank, world_size  # torch.distributed's names

__all__ = ["init", "rank", "world_size", "get_rank", "get_world_size", "is_initialized", "all_reduce", "broadcast",
           "barrier", "broadcast_object", "all_gather_object", "DistributedDataParallel", "DistributedSampler",
           "DDPStrategy", "MPIUnavailableError"]
