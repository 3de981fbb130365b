"""Data-parallel training with a loop of your own: an MLP on MNIST over several MPI processes.

    mpiexec -n 2 python examples/ddp_mnist.py [--epochs 1] [--batch-size 64] [--dataset mnist]
    python examples/ddp_mnist.py                  # the same script in one process: no MPI involved

``pip install "nabla[mpi]"`` brings mpi4py and MPICH's ``mpiexec``.  What each process does:

1. builds the model from its own seed -- ``DistributedDataParallel`` then copies rank 0's weights to every
   rank (and checks that every rank built the same architecture);
2. reads its own shard of each epoch (``DistributedSampler``: every N-th sample of the epoch's shuffled order,
   the same order on every rank because ``set_epoch`` seeds it) in batches of ``--batch-size`` -- so one
   optimizer step sees N x batch-size samples, the effective batch;
3. ``loss.backward()`` fills ``.grad`` with the gradient of its own batch's mean loss, and DDP's hooks
   average it over the ranks during backward: after backward every rank holds the gradient of the mean loss
   over all N x batch-size samples, so ``opt.step()`` makes the same update everywhere;
4. evaluates its own contiguous share of the test set and adds the counts with ``all_reduce``: the accuracy is
   the number correct over all test images, as one process would count it (a mean of the ranks' accuracies
   would be wrong when the shares differ in size);
5. rank 0 alone prints and saves ``ddp_mnist.safetensors`` (``model.module``'s state: the plain model's keys).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import nabla as nb
import nabla.distributed as dist
from nabla import nn, optim
from nabla.data import DataLoader
from nabla.data.datasets import get_dataset
from nabla.data.transforms import Normalize


def mlp(width: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 10))


def evaluate(model, test_set, batch_size: int = 1000) -> tuple:
    """(correct, seen, loss sum) over all ranks, each rank scoring a contiguous share of ``test_set``."""
    share = np.array_split(np.arange(len(test_set)), dist.world_size())[dist.rank()]
    loader = DataLoader(test_set, batch_size=batch_size, sampler=share.tolist())
    totals = np.zeros(3)
    model.eval()
    with nb.no_grad():
        for x, y in loader:
            logits = model(x)
            totals += [float((logits.argmax(1) == y).sum().item()), len(y),
                       float(nn.functional.cross_entropy(logits, y, reduction="sum").item())]
    model.train()
    dist.all_reduce(totals)  # sums of every rank's counts: exact, whatever the shares' sizes
    return totals


def train(args) -> dict:
    dist.init()
    rank, world = dist.rank(), dist.world_size()
    nb.manual_seed(args.seed + rank)  # deliberately different: DDP starts every rank from rank 0's weights
    train_set = get_dataset(args.dataset, train=True, download=True)
    test_set = get_dataset(args.dataset, train=False, download=True)
    train_set.transform = test_set.transform = Normalize([0.1307], [0.3081])
    model = dist.DistributedDataParallel(mlp(args.width), overlap=not args.no_overlap)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    sampler = dist.DistributedSampler(train_set, shuffle=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    if rank == 0:
        print(f"{world} process(es) x batch {args.batch_size} = effective batch {world * args.batch_size}; "
              f"{len(loader)} steps an epoch", flush=True)
    loss_fn, steps, t0 = nn.CrossEntropyLoss(), 0, time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new order each epoch, the same on every rank
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()        # gradients averaged over the ranks here
            opt.step()
            steps += 1
            if args.max_steps and steps >= args.max_steps:
                break
        correct, seen, loss_sum = evaluate(model, test_set)
        if rank == 0:
            print(f"epoch {epoch + 1}: test accuracy {correct / seen * 100:.2f}% ({int(correct)}/{int(seen)}), "
                  f"test loss {loss_sum / seen:.4f}, {time.perf_counter() - t0:.1f} s", flush=True)
    if rank == 0 and args.save:
        nb.save(model.module.state_dict(), args.save)
    return {"world_size": world, "steps": steps, "accuracy": correct / seen, "test_loss": loss_sum / seen,
            "weights_sum": float(sum(p.data.astype(np.float64).sum() for p in model.module.parameters()))}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", help="an MNIST-shaped data set (mnist, fashion-mnist, mnist-5k)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64, help="per process: the effective batch is N times this")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (0: no limit)")
    p.add_argument("--no-overlap", action="store_true", help="reduce after backward, not bucket by bucket during it")
    p.add_argument("--save", default="ddp_mnist.safetensors", help="where rank 0 saves the weights ('' : nowhere)")
    p.add_argument("--json", action="store_true", help="print every rank's result as one JSON line (rank 0)")
    args = p.parse_args(argv)
    result = train(args)
    results = dist.all_gather_object(result)
    if args.json and dist.rank() == 0:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
