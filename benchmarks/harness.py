"""Run workloads under nabla and PyTorch in separate processes, alternating, and print the ratios.

    python -m benchmarks [names...] [--pairs 5] [--repeats 3] [--target 0.4] [--torch-threads 2]
                         [--json results.json] [--list]

For each workload: ``pairs`` times, a nabla worker process then a torch worker process (their thread
pools would contend inside one process); each prints the median of its repeats' mean step times.
The figure per workload is the median over pairs of nabla/torch, so a slow moment of the machine hits
both sides of a pair.  The workers run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from their
environment: this machine sets them to force a slower OpenBLAS kernel on NumPy.  PyTorch gets
``torch.set_num_threads(2)``; NumPy keeps OpenBLAS's default thread count (both printed).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from .workloads import WORKLOADS, get

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_worker(framework, name, config, iters=None, repeats=3, warmup=3, target=0.4, threads=2,
               timeout=600) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.worker", "--framework", framework, "--workload", name,
           "--repeats", str(repeats), "--warmup", str(warmup), "--target", str(target),
           "--threads", str(threads), "--config", json.dumps(config)]
    if iters is not None:
        cmd += ["--iters", str(iters)]
    proc = subprocess.run(cmd, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"framework": framework, "workload": name,
                "error": f"worker exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    return json.loads(lines[-1])


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds} s"  # pragma: no cover


def summarize(w, nabla_runs: list, torch_runs: list) -> dict:
    """Median ratio over pairs (nabla_i / torch_i), and each side's median step time."""
    n = [r["median"] for r in nabla_runs]
    t = [r["median"] for r in torch_runs]
    ratios = [a / b for a, b in zip(n, t)]
    ratio = statistics.median(ratios)
    per = w.per[0]
    return {"workload": w.name, "nabla_s": statistics.median(n) / per, "torch_s": statistics.median(t) / per,
            "ratio": ratio, "ratio_min": min(ratios), "ratio_max": max(ratios), "ratios": ratios,
            "goal": w.goal, "pass": ratio <= w.goal, "per": w.per[1], "pairs": len(ratios)}


def bench_workload(w, pairs, repeats, warmup, target, threads, log=print) -> dict:
    try:
        config = w.make_config()
    except Exception as e:  # noqa: BLE001 - a config that cannot be made skips the workload
        return {"workload": w.name, "goal": w.goal, "skipped": f"config: {type(e).__name__}: {e}"}
    nabla_runs, torch_runs, infos = [], [], {}
    iters = {"nabla": None, "torch": None}
    for i in range(pairs):
        for fw, runs in (("nabla", nabla_runs), ("torch", torch_runs)):
            r = run_worker(fw, w.name, config, iters[fw], repeats, warmup, target, threads)
            if "error" in r:
                log(f"  {w.name}: {fw} worker failed: {r['error']}\n{r.get('traceback', '')}")
                return {"workload": w.name, "goal": w.goal, "error": f"{fw}: {r['error']}"}
            infos[fw] = r.get("info", {})
            if "skipped" in r:
                log(f"  {w.name}: skipped, nabla lacks something it needs: {r['skipped']}")
                out = {"workload": w.name, "goal": w.goal, "skipped": r["skipped"], "info": infos}
                ref = run_worker("torch", w.name, config, None, repeats, warmup, target, threads)
                if "median" in ref:  # PyTorch's figure alone, for reference
                    out["torch_s"] = ref["median"] / w.per[0]
                    out["per"] = w.per[1]
                    infos["torch"] = ref.get("info", {})
                    log(f"  {w.name}: torch alone {fmt_time(out['torch_s'])} per {w.per[1]}")
                return out
            iters[fw] = r["iters"]  # later runs reuse the first run's calibrated count
            runs.append(r)
        log(f"  {w.name} pair {i + 1}/{pairs}: nabla {fmt_time(nabla_runs[-1]['median'] / w.per[0])}, "
            f"torch {fmt_time(torch_runs[-1]['median'] / w.per[0])} per {w.per[1]}, "
            f"ratio {nabla_runs[-1]['median'] / torch_runs[-1]['median']:.3f}")
    s = summarize(w, nabla_runs, torch_runs)
    s.update(config=config, iters=iters, info=infos)
    return s


def describe_machine() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "unset_in_workers": {k: os.environ.get(k) for k in UNSET}}


def print_header(machine: dict, infos: dict) -> None:
    print(f"machine: {machine['cpu']}, {machine['cpus']} CPUs, Python {machine['python']}")
    print(f"removed from the workers' environment: "
          + ", ".join(f"{k}={v!r}" for k, v in machine["unset_in_workers"].items()))
    n = infos.get("nabla", {})
    for pool in n.get("threadpools", []):
        if pool.get("internal_api") == "openblas" or "error" in pool:
            print(f"nabla worker: NumPy {n.get('numpy')}, BLAS {pool.get('internal_api')} "
                  f"{pool.get('version', '')}, kernel (architecture) {pool.get('architecture')}, "
                  f"threads {pool.get('num_threads')}" if "error" not in pool else f"nabla worker: {pool['error']}")
    t = infos.get("torch", {})
    if t:
        print(f"torch worker: torch {t.get('torch')}, torch.get_num_threads() = {t.get('torch_threads')}, "
              f"pools " + ", ".join(f"{p.get('internal_api')}({p.get('num_threads')})"
                                    for p in t.get("threadpools", []) if "internal_api" in p))


def print_table(results: list) -> None:
    head = f"{'workload':<22} {'nabla':>10} {'torch':>10} {'per':>5} {'ratio':>7} {'(min-max)':>13} {'goal':>6}  result"
    print(head)
    print("-" * len(head))
    for r in results:
        if "ratio" in r:
            print(f"{r['workload']:<22} {fmt_time(r['nabla_s']):>10} {fmt_time(r['torch_s']):>10} {r['per']:>5} "
                  f"{r['ratio']:>7.3f} {r['ratio_min']:>6.2f}-{r['ratio_max']:<6.2f} {'<=' + str(r['goal']):>6}  "
                  f"{'pass' if r['pass'] else 'MISS'}")
        else:
            why = r.get("skipped") or r.get("error")
            kind = "skipped" if "skipped" in r else "ERROR"
            torch_s = f"torch {fmt_time(r['torch_s'])} per {r['per']}; " if "torch_s" in r else ""
            print(f"{r['workload']:<22} {kind} ({torch_s}goal <= {r['goal']}): {why}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description="nabla vs PyTorch, alternating processes")
    p.add_argument("names", nargs="*", help=f"workloads (default: all): {', '.join(WORKLOADS)}")
    p.add_argument("--pairs", type=int, default=5, help="nabla/torch process pairs per workload")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats inside each process")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    p.add_argument("--target", type=float, default=0.4, help="seconds per timed repeat")
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    a = p.parse_args(argv)
    if a.list:
        for w in WORKLOADS.values():
            print(f"{w.name:<22} goal <= {w.goal}x  ({w.source}) {w.description}")
        return 0
    try:
        workloads = [get(n) for n in a.names] if a.names else list(WORKLOADS.values())
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    machine = describe_machine()
    t0 = time.time()
    results = []
    for w in workloads:
        print(f"{w.name}: {w.description} (goal <= {w.goal}x, {w.source})", flush=True)
        results.append(bench_workload(w, a.pairs, a.repeats, a.warmup, a.target, a.torch_threads,
                                      log=lambda s: print(s, flush=True)))
    infos = {}
    for r in results:
        for fw, info in r.get("info", {}).items():
            infos.setdefault(fw, info)
    print()
    print_header(machine, infos)
    print(f"{a.pairs} alternating pairs per workload, {a.repeats} repeats of ~{a.target} s each per process; "
          f"ratio = median over pairs of nabla/torch; times per operation ({time.time() - t0:.0f} s in all)")
    print()
    print_table(results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine, "results": results}, f, indent=1)
    return 1 if any("error" in r for r in results) else 0
