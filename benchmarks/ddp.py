"""Data parallelism on this machine: one process with T BLAS threads against T processes with one thread each
(the same effective batch), the time the gradient Allreduce takes per step, and MPI's Allreduce latency and
bandwidth here.  ``benchmarks/README.md`` ("Data parallelism") turns the figures into a scaling model.

    python -m benchmarks.ddp                              # all: allreduce sweep, mlp, resnet20, transformer
    python -m benchmarks.ddp mlp resnet20 --steps 20      # some workloads
    python -m benchmarks.ddp --allreduce-only
    python -m benchmarks.ddp --model                      # the scaling table from the last results file

A **worker** (``--worker NAME``, one per process under ``mpiexec -n P``) builds the model (float32, seed 0) and
a fixed batch of random inputs of the per-process size, runs 2 warm-up steps, then ``--steps`` timed steps of
zero_grad, forward, backward, the reduction, ``optimizer.step()`` (SGD with momentum).  Modes:
``trainer`` (the Trainer's way: after backward, ``GradientReducer`` with one Allreduce per bucket of 25 MB),
``ddp`` (``DistributedDataParallel``'s hooks, reduced when backward ends) and ``ddp-overlap`` (each bucket's
MPI_Iallreduce started as soon as its gradients exist), both with ``SMALL_BUCKETS`` MB buckets so that these
small models get several buckets and the overlap has something to overlap.  Rank 0 prints one JSON line:
the median step time, samples a second (all processes), the time inside Allreduce per step (transfer plus
waiting for the slower rank), and forward+backward alone (``compute``, measured in separate steps without
reduction; also in CPU seconds of the process, which other processes' load does not inflate).
The driver runs 1 process with OPENBLAS_NUM_THREADS=T, 1 process with 1 thread (the per-core reference) and
T processes with 1 thread each, one after the other, and writes ``results/DATE-ddp.json`` and ``.txt``.
Other processes on the machine are reported (load average before and after), not waited for; on a busy
machine read the minimum step (the least disturbed) beside the median.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# name -> (effective batch, builder); the effective batch is split over the processes
WORKLOADS = {"mlp": 128, "resnet20": 64, "transformer": 32}
SIZES = [8 * 4 ** k for k in range(12)]  # 8 B .. 32 MiB
SMALL_BUCKETS = 0.25


def _build(name: str, batch: int):
    """``(model, loss(model) -> Tensor)`` for a per-process batch, inputs fixed (seed 0)."""
    import nabla as nb
    from nabla import nn
    from nabla.models import build_model
    rng = np.random.default_rng(0)
    nb.manual_seed(0)
    if name == "transformer":
        from benchmarks import workloads_transformer as wt
        model = wt._build(nb)
        x, y, pe = wt._arrays()
        x, y = np.resize(x, (batch, wt.SEQ)), np.resize(y, (batch, wt.SEQ)).reshape(-1)
        mask = nb.tensor(np.triu(np.full((wt.SEQ, wt.SEQ), -np.inf, dtype=np.float32), 1))
        x, y, pe = nb.tensor(x), nb.tensor(y), nb.tensor(pe)
        criterion = nn.CrossEntropyLoss()
        return model, lambda m: criterion(m(x, pe, mask).reshape(-1, wt.VOCAB), y)
    shape = (1, 28, 28) if name == "mlp" else (3, 32, 32)
    model = build_model(name, shape, 10)
    x = nb.tensor(rng.normal(size=(batch,) + shape).astype(np.float32))
    y = nb.tensor(rng.integers(0, 10, batch))
    criterion = nn.CrossEntropyLoss()
    return model, lambda m: criterion(m(x), y)


def _timed_steps(step, steps: int, clock=time.perf_counter) -> list:
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = clock()
        step()
        times.append(clock() - t0)
    return times


def worker(name: str, batch: int, mode: str, steps: int) -> dict:
    """One process's measurement (see the module docstring); the figures of rank 0, or the slowest rank."""
    import nabla.distributed as dist
    from nabla import comm, optim
    from nabla.distributed.buckets import GradientReducer
    dist.init()
    model, loss_of = _build(name, batch)
    ddp = mode.startswith("ddp")
    net = dist.DistributedDataParallel(model, bucket_cap_mb=SMALL_BUCKETS, overlap=mode == "ddp-overlap") if ddp \
        else model
    opt = optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    reducer = GradientReducer(list(model.parameters()))

    def step(reduce=True):
        opt.zero_grad()
        loss_of(net).backward()
        if reduce and mode == "trainer":
            reducer.reduce()
        opt.step()
    compute = _timed_steps(lambda: (opt.zero_grad(), loss_of(model).backward()), max(3, steps // 2))
    compute_cpu = _timed_steps(lambda: (opt.zero_grad(), loss_of(model).backward()), 3, time.process_time)
    comm.barrier()
    reducer.seconds, reducer.calls = 0.0, 0
    times = _timed_steps(step, steps)
    params = sum(p.numel() for p in model.parameters())
    n = dist.world_size()
    row = {"workload": name, "mode": mode, "processes": n, "batch_per_process": batch, "parameters": params,
           "gradient_bytes": params * 4, "buckets": len(net._buckets if ddp else reducer.buckets),
           "step_s": statistics.median(times), "step_min_s": min(times),
           "compute_s": statistics.median(compute), "compute_cpu_s": statistics.median(compute_cpu),
           "allreduce_s_per_step": reducer.seconds / (steps + 2) if mode == "trainer" else None,
           "threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    row["samples_per_s"] = n * batch / row["step_s"]
    return row


def allreduce_sweep() -> list:
    """Median time of Allreduce(sum) of float32 buffers from 8 bytes to 32 MiB between the ranks (the number of
    calls is fixed by the size, the same on every rank: a collective must be called equally often)."""
    from nabla import comm
    rows = []
    for size in SIZES:
        a = np.ones(max(size // 4, 1), np.float32)
        comm.barrier()
        times = []
        for _ in range(int(np.clip(5e7 // size, 5, 1000))):
            t0 = time.perf_counter()
            comm.all_reduce(a)
            times.append(time.perf_counter() - t0)
        t = float(np.median(times))
        rows.append({"bytes": size, "seconds": t, "GB_per_s": size / t / 1e9, "calls": len(times),
                     "min_seconds": float(min(times))})
    return rows


def _launch(processes: int, threads: int, args: list) -> list:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    prefix = []
    if processes > 1:
        from nabla.distributed.launcher import check_mpi
        prefix = [check_mpi(processes), "-n", str(processes)]
    cmd = prefix + [sys.executable, "-m", "benchmarks.ddp", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith(("{", "["))]


def drive(names: list, steps: int, threads: int, sweep: bool) -> dict:
    load = [os.getloadavg()[0]]
    result = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "threads": threads, "runs": []}
    if sweep:
        result["allreduce"] = _launch(threads, 1, ["--sweep"])[0]
    for name in names:
        batch = WORKLOADS[name]
        runs = [(1, threads, batch, "trainer"), (1, 1, batch, "trainer")] + [
            (threads, 1, batch // threads, m) for m in ("trainer", "ddp", "ddp-overlap")]
        for processes, t, b, mode in runs:
            row = _launch(processes, t, ["--worker", name, "--batch", str(b), "--mode", mode, "--steps", str(steps)])[0]
            print(_row_text(row), flush=True)
            result["runs"].append(row)
    load.append(os.getloadavg()[0])
    result["load_average"] = load
    return result


def _row_text(r: dict) -> str:
    comm = "" if r["allreduce_s_per_step"] is None else f", Allreduce {r['allreduce_s_per_step'] * 1e3:.2f} ms/step"
    return (f"{r['workload']:12s} {r['processes']} proc x {r['threads']} thread(s), batch {r['batch_per_process']:4d} "
            f"{r['mode']:12s}: step {r['step_s'] * 1e3:8.1f} ms (min {r['step_min_s'] * 1e3:7.1f}), "
            f"forward+backward {r['compute_s'] * 1e3:8.1f} ms ({r['compute_cpu_s'] * 1e3:7.1f} ms CPU), "
            f"{r['samples_per_s']:8.0f} samples/s{comm}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help=f"workloads: {', '.join(WORKLOADS)} (default: all)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2, help="T: cores to compare on (1 x T threads vs T x 1)")
    p.add_argument("--allreduce-only", action="store_true")
    p.add_argument("--model", action="store_true", help="print the scaling model from the latest results")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--mode", default="trainer", help=argparse.SUPPRESS)
    p.add_argument("--sweep", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker or args.sweep:
        from nabla import comm
        row = worker(args.worker, args.batch, args.mode, args.steps) if args.worker else allreduce_sweep()
        if comm.rank() == 0:
            print(json.dumps(row), flush=True)
        return
    if args.model:
        from benchmarks.ddp_model import print_model
        print_model(sorted((HERE / "results").glob("*-ddp.json"))[-1])
        return
    names = [] if args.allreduce_only else (args.names or list(WORKLOADS))
    result = drive(names, args.steps, args.threads, sweep=True)
    stem = fresh_stem(HERE / "results", result["date"])
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    lines = [_row_text(r) for r in result["runs"]] + [
        f"allreduce {r['bytes']:>9d} B: median {r['seconds'] * 1e6:10.1f} us  {r['GB_per_s']:.3f} GB/s, "
        f"min {r['min_seconds'] * 1e6:10.1f} us  {r['bytes'] / r['min_seconds'] / 1e9:.3f} GB/s"
        for r in result["allreduce"]]
    lines.append(f"load average before/after: {result['load_average']}")
    stem.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[len(result["runs"]):]))
    print(f"wrote {stem.with_suffix('.json')} and .txt")


def fresh_stem(folder: Path, date: str) -> Path:
    """``DATE-ddp``, or ``DATE-runK-ddp`` for a later run of the day (K above every run already there): a run
    never overwrites another's results, and ``--model``'s ``*-ddp.json``, sorted, finds the latest."""
    if not (folder / f"{date}-ddp.json").exists():
        return folder / f"{date}-ddp"
    runs = [int(p.name[len(date) + 4:-len("-ddp.json")]) for p in folder.glob(f"{date}-run*-ddp.json")
            if p.name[len(date) + 4:-len("-ddp.json")].isdigit()]
    return folder / f"{date}-run{max(runs, default=1) + 1}-ddp"


if __name__ == "__main__":
    main()
