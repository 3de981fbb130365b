"""Time one workload under one framework, in its own process, and print one line of JSON.

    python -m benchmarks.worker --framework nabla|torch --workload NAME [--iters N] [--repeats R]
                                [--warmup W] [--target SECONDS] [--threads T] [--config JSON]

Set-up runs once; then ``warmup`` steps; then, unless ``--iters`` is given, the number of steps per
repeat is calibrated so one repeat takes about ``--target`` seconds; then ``--repeats`` repeats of
``iters`` steps, each timed with time.perf_counter.  The reported time is the median of the repeats'
mean step times.  The garbage collector stays on, as in a real training loop.

A nabla workload that needs something nabla lacks (ImportError, AttributeError, NotImplementedError
in set-up or in its first step) is reported as ``{"skipped": reason}``, not as a failure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback


def blas_info() -> list:
    """The thread pools loaded in this process (threadpoolctl), with the BLAS kernel in use."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl is not installed (pip install threadpoolctl)"}]
    keep = ("internal_api", "architecture", "num_threads", "version", "threading_layer")
    return [{k: p.get(k) for k in keep if k in p} for p in threadpool_info()]


def framework_info(framework: str) -> dict:
    info = {"python": sys.version.split()[0],
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                            "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
                             if k in os.environ}}
    import numpy
    info["numpy"] = numpy.__version__
    if framework == "torch":
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
    else:
        import nabla
        info["nabla"] = getattr(nabla, "__version__", "?")
    info["threadpools"] = blas_info()
    return info


def time_step(step, iters=None, repeats=3, warmup=3, target=0.4, calibrate_s=0.05):
    """(iters, [mean seconds per step for each repeat])."""
    for _ in range(warmup):
        step()
    if iters is None:
        n, dt = 1, 0.0
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            dt = time.perf_counter() - t0
            if dt >= calibrate_s:
                break
            n = n * 2 if dt <= 0 else max(n * 2, int(n * calibrate_s * 1.2 / dt))
        iters = max(1, round(target * n / dt))
    perf_counter = time.perf_counter
    times = []
    for _ in range(repeats):
        t0 = perf_counter()
        for _ in range(iters):
            step()
        times.append((perf_counter() - t0) / iters)
    return iters, times


def rss_mb() -> float | None:
    """This process's resident memory now, in MB (Linux /proc), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_mb() -> float | None:
    """The most resident memory this process has held, in MB (getrusage), or None where unavailable."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def run(framework, workload, iters=None, repeats=3, warmup=3, target=0.4, threads=2, config=None) -> dict:
    from .workloads import MISSING_FEATURE, get
    result = {"framework": framework, "workload": workload, "pid": os.getpid()}
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
    else:
        import nabla  # imported before the memory baseline, as torch is
        nabla.memory.apply_environment()  # keep freed blocks between steps, as the `nabla` command does
    w = get(workload)
    cfg = w.make_config() if config is None else config
    rss_before = rss_mb()  # the framework is imported: what set-up and the steps add comes on top
    result["config"] = cfg
    try:
        step = w.setup(framework, cfg)
        step()  # the first step finds missing features before the timing starts
    except MISSING_FEATURE as e:
        if framework != "nabla":
            raise
        result["skipped"] = f"{type(e).__name__}: {e}"
        result["info"] = framework_info(framework)
        return result
    iters, times = time_step(step, iters=iters, repeats=repeats, warmup=warmup, target=target)
    result.update(iters=iters, repeats=repeats, times=times, median=statistics.median(times),
                  info=framework_info(framework))
    peak = peak_rss_mb()
    if peak is not None and rss_before is not None:
        # the workload's peak memory: model, data, and the largest step's activations and temporaries
        result["peak_mb"] = max(0.0, peak - rss_before)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__.splitlines()[0])
    p.add_argument("--framework", required=True, choices=("nabla", "torch"))
    p.add_argument("--workload", required=True)
    p.add_argument("--iters", type=int, default=None, help="steps per repeat (default: calibrated)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--target", type=float, default=0.4, help="seconds per repeat when calibrating")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (torch only)")
    p.add_argument("--config", default=None, help="JSON dict passed to the workload's set-up")
    a = p.parse_args(argv)
    try:
        result = run(a.framework, a.workload, a.iters, a.repeats, a.warmup, a.target, a.threads,
                     None if a.config is None else json.loads(a.config))
    except Exception as e:  # noqa: BLE001 - reported to the harness, which prints it
        result = {"framework": a.framework, "workload": a.workload,
                  "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
