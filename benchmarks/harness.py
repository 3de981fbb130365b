"""Run workloads under nabla and PyTorch in separate processes, alternating, and print the ratios.

    python -m benchmarks [names...] [--pairs 5] [--repeats 3] [--target 0.4] [--torch-threads 2]
                         [--torch-python PATH] [--json results.json] [--list]

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
TORCH_PYTHON = "NABLA_BENCH_TORCH_PYTHON"


def worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def cpu_jiffies():
    """(busy, total) CPU jiffies of the whole machine from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    total = sum(vals[:8])  # guest time is already counted in user
    return total - idle, total


def machine_busy(seconds=0.5) -> float | None:
    """Fraction of all CPUs busy over ``seconds`` (this process sleeps meanwhile)."""
    a = cpu_jiffies()
    time.sleep(seconds)
    b = cpu_jiffies()
    if a is None or b is None or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def wait_until_quiet(max_wait, threshold=0.15, log=print) -> float | None:
    """Other people's processes spoil timings on a 2-CPU machine: wait (up to ``max_wait`` s) until the
    machine is nearly idle.  Returns the last busy fraction seen."""
    t0 = time.time()
    busy = machine_busy()
    warned = False
    while busy is not None and busy > threshold and time.time() - t0 < max_wait:
        if not warned:
            log(f"  waiting for the machine to go quiet ({busy:.0%} of the CPUs busy)")
            warned = True
        busy = machine_busy(1.0)
    return busy


def torch_python() -> str:
    """The interpreter of the PyTorch workers: NABLA_BENCH_TORCH_PYTHON (set by --torch-python), e.g. another
    virtual environment whose torch loads torchvision's compiled kernels; by default this one."""
    return os.environ.get(TORCH_PYTHON) or sys.executable


def run_worker(framework, name, config, iters=None, repeats=3, warmup=3, target=0.4, threads=2,
               timeout=600) -> dict:
    cmd = [torch_python() if framework == "torch" else sys.executable, "-m", "benchmarks.worker",
           "--framework", framework, "--workload", name,
           "--repeats", str(repeats), "--warmup", str(warmup), "--target", str(target),
           "--threads", str(threads), "--config", json.dumps(config)]
    if iters is not None:
        cmd += ["--iters", str(iters)]
    j0, r0, w0 = cpu_jiffies(), os.times(), time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=timeout)
    j1, r1, w1 = cpu_jiffies(), os.times(), time.time()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"framework": framework, "workload": name,
                "error": f"worker exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    result = json.loads(lines[-1])
    if j0 is not None and j1 is not None and j1[1] > j0[1]:
        # CPU used by other processes while the worker ran, as a fraction of the machine
        mine = (r1.children_user + r1.children_system) - (r0.children_user + r0.children_system)
        ncpu = os.cpu_count() or 1
        busy = (j1[0] - j0[0]) / (j1[1] - j0[1])
        result["others_busy"] = max(0.0, busy - mine / max(w1 - w0, 1e-9) / ncpu)
    return result


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
            "goal": w.goal, "pass": ratio <= w.goal, "per": w.per[1], "pairs": len(ratios),
            "nabla_peak_mb": _median_of(nabla_runs, "peak_mb"), "torch_peak_mb": _median_of(torch_runs, "peak_mb")}


def _median_of(runs: list, key: str):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def bench_workload(w, pairs, repeats, warmup, target, threads, log=print, quiet_wait=0.0,
                   max_others=1.0, retries=3) -> dict:
    try:
        config = w.make_config()
    except Exception as e:  # noqa: BLE001 - a config that cannot be made skips the workload
        return {"workload": w.name, "goal": w.goal, "skipped": f"config: {type(e).__name__}: {e}"}
    nabla_runs, torch_runs, infos = [], [], {}
    iters = {"nabla": None, "torch": None}
    discarded = 0
    i = 0
    while i < pairs:
        pair = {}
        for fw in ("nabla", "torch"):
            if quiet_wait:
                wait_until_quiet(quiet_wait, log=log)
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
            pair[fw] = r
        others = max(pair[fw].get("others_busy", 0.0) for fw in pair)
        msg = (f"  {w.name} pair {i + 1}/{pairs}: nabla {fmt_time(pair['nabla']['median'] / w.per[0])}, "
               f"torch {fmt_time(pair['torch']['median'] / w.per[0])} per {w.per[1]}, "
               f"ratio {pair['nabla']['median'] / pair['torch']['median']:.3f}, "
               f"other processes used {others:.0%} of the CPUs")
        if others > max_others and discarded < retries * pairs:
            discarded += 1
            log(msg + ": discarded, run again")
            continue
        log(msg)
        nabla_runs.append(pair["nabla"])
        torch_runs.append(pair["torch"])
        i += 1
    s = summarize(w, nabla_runs, torch_runs)
    s.update(config=config, iters=iters, info=infos, discarded_pairs=discarded,
             others_busy=[max(a.get("others_busy", 0.0), b.get("others_busy", 0.0))
                          for a, b in zip(nabla_runs, torch_runs)])
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
            "unset_in_workers": {k: os.environ.get(k) for k in UNSET}, "torch_python": torch_python()}


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
        print(f"torch worker ({machine['torch_python']}): torch {t.get('torch')}, "
              f"torch.get_num_threads() = {t.get('torch_threads')}, "
              f"pools " + ", ".join(f"{p.get('internal_api')}({p.get('num_threads')})"
                                    for p in t.get("threadpools", []) if "internal_api" in p))


def _peak(r: dict) -> str:
    """Each framework's peak memory above its import (model, data, one step's arrays), in MB."""
    n, t = r.get("nabla_peak_mb"), r.get("torch_peak_mb")
    return "-" if n is None or t is None else f"{n:.0f}/{t:.0f}"


def print_table(results: list) -> None:
    head = (f"{'workload':<22} {'nabla':>10} {'torch':>10} {'per':>5} {'ratio':>7} {'(min-max)':>13} {'goal':>6}  "
            f"result  peak MB nabla/torch")
    print(head)
    print("-" * len(head))
    for r in results:
        if "ratio" in r:
            print(f"{r['workload']:<22} {fmt_time(r['nabla_s']):>10} {fmt_time(r['torch_s']):>10} {r['per']:>5} "
                  f"{r['ratio']:>7.3f} {r['ratio_min']:>6.2f}-{r['ratio_max']:<6.2f} {'<=' + str(r['goal']):>6}  "
                  f"{'pass' if r['pass'] else 'MISS'}    {_peak(r)}")
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
    p.add_argument("--torch-python", default=None,
                   help=f"interpreter for the PyTorch workers (default: ${TORCH_PYTHON}, else this one), e.g. "
                        "/work/venv-tv/bin/python for torchvision's compiled kernels")
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="before each worker, wait up to this many seconds for the machine to go idle (0: never)")
    p.add_argument("--max-others", type=float, default=0.1,
                   help="discard and rerun a pair when other processes used more than this fraction of the "
                        "CPUs during it (at most 3x --pairs reruns; 1: keep every pair)")
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
    if a.torch_python:
        os.environ[TORCH_PYTHON] = a.torch_python
    machine = describe_machine()
    t0 = time.time()
    results = []
    for w in workloads:
        print(f"{w.name}: {w.description} (goal <= {w.goal}x, {w.source})", flush=True)
        results.append(bench_workload(w, a.pairs, a.repeats, a.warmup, a.target, a.torch_threads,
                                      log=lambda s: print(s, flush=True), quiet_wait=a.quiet_wait,
                                      max_others=a.max_others))
    infos = {}
    for r in results:
        for fw, info in r.get("info", {}).items():
            infos.setdefault(fw, info)
    print()
    print_header(machine, infos)
    print(f"{a.pairs} alternating pairs per workload, {a.repeats} repeats of ~{a.target} s each per process; "
          f"ratio = median over pairs of nabla/torch; times per operation ({time.time() - t0:.0f} s in all)")
    noisy = [f"{r['workload']} ({r['discarded_pairs']} discarded, others up to {max(r['others_busy']):.0%})"
             for r in results if r.get("others_busy") and (r["discarded_pairs"] or max(r["others_busy"]) > a.max_others)]
    if noisy:
        print("other processes competed for the CPUs during: " + ", ".join(noisy) + "; figures are less reliable")
    print()
    print_table(results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine, "results": results}, f, indent=1)
    return 1 if any("error" in r for r in results) else 0
