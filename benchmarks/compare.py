"""nabla against an earlier nabla: ``python -m benchmarks.compare --before DIR [WORKLOAD ...] [--pairs 7]``.

Where the harness (``python -m benchmarks``) times nabla against PyTorch, this times this checkout's nabla
against another source tree's (``DIR``: e.g. ``git worktree add /tmp/before <commit>``), both through the
nabla worker, in alternating processes (before, after, before, after...), and prints per workload the
median step time of each and the median over pairs of after / before with its spread.  No PyTorch
process runs in between, so on a noisy machine this is the sharper test of "did a change slow nabla
down": both sides see the same noise within a pair.  Run it with the BLAS overrides removed, as the
harness does: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.compare ...``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_run(tree: str, workload: str) -> float:
    """The median step time of one nabla worker process running ``workload`` from source tree ``tree``."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["PYTHONPATH"] = tree
    out = subprocess.run([sys.executable, "-m", "benchmarks.worker", "--framework", "nabla", "--workload", workload],
                         cwd=tree, env=env, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if "median" not in result:
        raise RuntimeError(f"{workload} in {tree}: {result.get('error') or result.get('skipped')}")
    return result["median"]


def compare(before: str, workload: str, pairs: int) -> dict:
    ratios, t_before, t_after = [], [], []
    for _ in range(pairs):
        b, a = one_run(before, workload), one_run(HERE, workload)
        t_before.append(b)
        t_after.append(a)
        ratios.append(a / b)
    return {"workload": workload, "before_s": statistics.median(t_before), "after_s": statistics.median(t_after),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "ratios": ratios}


def _time(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else (f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.3f} s")


def main(argv=None) -> int:
    sys.path.insert(0, HERE)
    from benchmarks.workloads import WORKLOADS
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="workloads (default: all)")
    p.add_argument("--before", required=True, help="the other source tree (a checkout of an earlier commit)")
    p.add_argument("--pairs", type=int, default=7)
    p.add_argument("--json", default=None, help="also write the results to this file")
    a = p.parse_args(argv)
    results = []
    print("| workload | before | after | after / before, median over pairs (min-max) |\n|---|---|---|---|")
    for name in a.names or list(WORKLOADS):
        r = compare(os.path.abspath(a.before), name, a.pairs)
        results.append(r)
        print(f"| `{name}` | {_time(r['before_s'])} | {_time(r['after_s'])} | {r['ratio']:.3f} "
              f"({r['ratio_min']:.3f}-{r['ratio_max']:.3f}) |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
