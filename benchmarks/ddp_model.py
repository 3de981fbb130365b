"""The scaling model of data-parallel training: what N nodes would give, from one node's measured step.

Weak scaling (every node keeps its batch B; the effective batch is N*B).  One step on N nodes:

    T_comm(N)  = k * 2 (N-1) * alpha + 2 (N-1)/N * S / beta     ring Allreduce of S gradient bytes in k buckets
                                                                (each bucket pays the latency alpha per hop)
    T_step(N)  = T_c + T_comm(N)                                reduced after backward (the Trainer's way)
    T_step(N)  = T_c + max(0, T_comm(N) - T_b)                  overlapped with backward (DDP's hooks)
    throughput = N * B / T_step(N)      efficiency = T_c / T_step(N)

T_c is one node's step without communication (forward, backward, update): by default the quiet-machine
figures of this README's main table (one 2-core node, 2 BLAS threads; ``QUIET``), because the figures of a
busy machine measure its load; T_b ~ 2/3 of T_c (backward costs about twice forward).  Communication stops
hiding behind backward at the N where T_comm(N) > T_b; beyond the bandwidth term, which tends to 2 S / beta,
only the latency term grows with N.
Assumptions (stated in benchmarks/README.md): a ring Allreduce (MPICH and Open MPI use it, or recursive
doubling for small messages, which is faster, so the latency term is an upper bound), one process per node,
full-duplex links without contention, no other traffic.

    python -m benchmarks.ddp --model        # the table from the newest results/*-ddp.json
"""
from __future__ import annotations

import json
import math

NETWORKS = {  # name -> (bandwidth in bytes/s, latency per message in seconds): assumed, not measured here
    "10 Gbit/s Ethernet (TCP)": (1.25e9, 25e-6),
    "100 Gbit/s InfiniBand/RoCE": (12.5e9, 2e-6),
}
NODES = (1, 2, 4, 8, 16, 32, 64)
BUCKET_BYTES = 25 * 2 ** 20
# a ResNet-50-sized model: 25.6 M parameters; 4.1 GFLOPs forward per 224x224 image against ResNet-20's 41 MFLOPs
# per 32x32 image, so one step per image costs ~100x ResNet-20's at nabla's measured convolution speed
RESNET50 = {"parameters": 25_557_032, "flops_ratio_to_resnet20": 4.1e9 / 41e6, "batch": 32}
# seconds per step at a batch, one quiet 2-vCPU node with 2 BLAS threads: mlp_train_adam_b128, resnet20_train_b64,
# transformer_train_adam of this README's table (2026-11-26)
QUIET = {"mlp": (3.66e-3, 128), "resnet20": (0.335, 64), "transformer": (64.5e-3, 32)}


def comm_time(nodes: int, nbytes: float, bandwidth: float, latency: float, buckets: int = 1) -> float:
    """Ring Allreduce time of ``nbytes`` over ``nodes`` nodes in ``buckets`` calls."""
    if nodes == 1:
        return 0.0
    return buckets * 2 * (nodes - 1) * latency + 2 * (nodes - 1) / nodes * nbytes / bandwidth


def step_time(compute: float, comm: float, overlap: bool) -> float:
    backward = compute * 2 / 3
    return compute + (max(0.0, comm - backward) if overlap else comm)


def hides_until(compute: float, nbytes: float, bandwidth: float, latency: float, buckets: int) -> str:
    """The first N (up to 1024) where T_comm(N) exceeds the backward time, or "never" (the bandwidth term
    alone stays below it)."""
    for n in range(2, 1025):
        if comm_time(n, nbytes, bandwidth, latency, buckets) > compute * 2 / 3:
            return str(n)
    return "> 1024"


def models_from(results: dict, reference: dict | None = QUIET) -> dict:
    """name -> (compute seconds per step on one node, batch per node, gradient bytes): the gradient bytes from a
    results file, the compute from ``reference`` (name -> (seconds, batch)) where it has the workload, else the
    fastest one-process run of the results (one node = this machine, with 1 or all its threads)."""
    one = {}
    for r in results["runs"]:
        if r["processes"] == 1 and (r["workload"] not in one or r["step_s"] < one[r["workload"]]["step_s"]):
            one[r["workload"]] = r
    models = {}
    for name, r in one.items():
        seconds, batch = (reference or {}).get(name, (r["step_s"], r["batch_per_process"]))
        models[name] = (seconds, batch, r["gradient_bytes"])
    if "resnet20" in models:
        seconds, batch, _ = models["resnet20"]
        per_image = seconds / batch * RESNET50["flops_ratio_to_resnet20"]
        models["resnet50-sized (estimated)"] = (per_image * RESNET50["batch"], RESNET50["batch"],
                                                RESNET50["parameters"] * 4)
    return models


def table(models: dict, network: str) -> list:
    bandwidth, latency = NETWORKS[network]
    lines = [f"**{network}** (beta = {bandwidth / 1e9:g} GB/s, alpha = {latency * 1e6:g} us)", "",
             "| model | grad MB | T_c (B/node) | " + " | ".join(f"N={n}" for n in NODES[1:])
             + " | hides until N | hides at N=64 up to a node this much faster |",
             "|---|---|---|" + "---|" * (len(NODES) - 1) + "---|---|"]
    for name, (compute, batch, nbytes) in models.items():
        buckets = max(1, math.ceil(nbytes / BUCKET_BYTES))
        cells = []
        for n in NODES[1:]:
            comm = comm_time(n, nbytes, bandwidth, latency, buckets)
            after, over = step_time(compute, comm, False), step_time(compute, comm, True)
            cells.append(f"{n * batch / over:,.0f}/s, {compute / after:.0%} / {compute / over:.0%}")
        faster = compute * 2 / 3 / comm_time(NODES[-1], nbytes, bandwidth, latency, buckets)
        took = f"{compute:.1f} s" if compute >= 1 else f"{compute * 1e3:.3g} ms"
        lines.append(f"| {name} | {nbytes / 1e6:.1f} | {took} ({batch}) | " + " | ".join(cells)
                     + f" | {hides_until(compute, nbytes, bandwidth, latency, buckets)} | {faster:,.1f}x |")
    return lines


def print_model(path) -> None:
    results = json.loads(open(path).read())
    models = models_from(results)
    print(f"from {path}: each cell is the throughput with overlap, then the efficiency without / with overlap\n")
    for network in NETWORKS:
        print("\n".join(table(models, network)) + "\n")
