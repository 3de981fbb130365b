"""nabla against the plain-NumPy floor of the same step, and both against PyTorch, in alternating processes.

    python -m benchmarks.numpy_floor vae_train_b128 [--pairs 5] [--quiet-wait 60] [--max-others 0.1] [--json F]

The harness (``python -m benchmarks``) compares two frameworks.  Where a step is dominated by matrix products,
the project's guide accepts instead "nabla within 1.10x of the same step in plain NumPy": the third side is
the workload ``NAME_numpy_floor`` (registered beside ``NAME``; its nabla slot runs the step written by hand in
NumPy, no framework).  For each workload this runs, ``pairs`` times, three worker processes in a row --
nabla (``NAME``), the NumPy floor (``NAME_numpy_floor``), PyTorch (``NAME``) -- with the harness's worker, its
environment (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed), its quiet-wait and its discard rule, and prints the
median over rounds of nabla / PyTorch, floor / PyTorch and nabla / floor, each with its spread: the three
ratios of one round saw the same load.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from .harness import describe_machine, fmt_time, print_header, run_worker, wait_until_quiet
from .workloads import WORKLOADS, get

FLOOR_GOAL = 1.10   # the guide's "within 1.10x of the same step in plain NumPy"
SIDES = (("nabla", "nabla", ""), ("floor", "nabla", "_numpy_floor"), ("torch", "torch", ""))


def bench(name: str, pairs: int, repeats: int, warmup: int, target: float, threads: int, quiet_wait: float,
          max_others: float, log=print) -> dict:
    w = get(name)
    floor = get(name + "_numpy_floor")
    configs = {"": w.make_config(), "_numpy_floor": floor.make_config()}
    iters = {side: None for side, _, _ in SIDES}
    runs = {side: [] for side, _, _ in SIDES}
    infos, others_all, discarded = {}, [], 0
    while len(runs["nabla"]) < pairs:
        rnd = {}
        for side, fw, suffix in SIDES:
            if quiet_wait:
                wait_until_quiet(quiet_wait, log=log)
            r = run_worker(fw, name + suffix, configs[suffix], iters[side], repeats, warmup, target, threads)
            if "median" not in r:
                raise RuntimeError(f"{name + suffix} ({side}): {r.get('error') or r.get('skipped')}")
            iters[side] = r["iters"]
            infos.setdefault(fw, r.get("info", {}))
            rnd[side] = r
        others = max(r.get("others_busy", 0.0) for r in rnd.values())
        t = {side: rnd[side]["median"] for side in rnd}
        msg = (f"  {name} round {len(runs['nabla']) + 1}/{pairs}: nabla {fmt_time(t['nabla'])}, NumPy floor "
               f"{fmt_time(t['floor'])}, torch {fmt_time(t['torch'])}; nabla/torch {t['nabla'] / t['torch']:.3f}, "
               f"floor/torch {t['floor'] / t['torch']:.3f}, nabla/floor {t['nabla'] / t['floor']:.3f}; "
               f"other processes used {others:.0%} of the CPUs")
        if others > max_others and discarded < 3 * pairs:
            discarded += 1
            log(msg + ": discarded, run again")
            continue
        log(msg)
        others_all.append(others)
        for side in rnd:
            runs[side].append(rnd[side]["median"])
    out = {"workload": name, "goal": w.goal, "floor_goal": FLOOR_GOAL, "pairs": pairs, "iters": iters,
           "discarded_rounds": discarded, "others_busy": others_all, "info": infos, "config": configs[""]}
    for side in runs:
        out[f"{side}_s"] = statistics.median(runs[side])
        out[f"{side}_runs"] = runs[side]
    for a, b in (("nabla", "torch"), ("floor", "torch"), ("nabla", "floor")):
        ratios = [x / y for x, y in zip(runs[a], runs[b])]
        out[f"{a}/{b}"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
                           "ratios": ratios}
    out["pass_torch"] = out["nabla/torch"]["median"] <= w.goal
    out["pass_floor"] = out["nabla/floor"]["median"] <= FLOOR_GOAL
    return out


def main(argv=None) -> int:
    floors = [n[:-len("_numpy_floor")] for n in WORKLOADS if n.endswith("_numpy_floor")]
    p = argparse.ArgumentParser(prog="python -m benchmarks.numpy_floor", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+", help=f"workloads with a NAME_numpy_floor beside them: {', '.join(floors)}")
    p.add_argument("--pairs", type=int, default=5, help="rounds of three processes (nabla, floor, torch)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--target", type=float, default=0.4)
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--quiet-wait", type=float, default=60.0)
    p.add_argument("--max-others", type=float, default=0.1)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    missing = [n for n in a.names if n not in floors]
    if missing:
        print(f"no NAME_numpy_floor workload for: {', '.join(missing)}; known: {', '.join(floors)}", file=sys.stderr)
        return 2
    machine, t0, results = describe_machine(), time.time(), []
    for name in a.names:
        print(f"{name}: nabla, its plain-NumPy floor and PyTorch, alternating", flush=True)
        results.append(bench(name, a.pairs, a.repeats, a.warmup, a.target, a.torch_threads, a.quiet_wait,
                             a.max_others, log=lambda s: print(s, flush=True)))
    print()
    infos = {}
    for r in results:
        for fw, info in r["info"].items():
            infos.setdefault(fw, info)
    print_header(machine, infos)
    print(f"{a.pairs} rounds (nabla, NumPy floor, torch processes) per workload; ratios = median over rounds "
          f"(min-max) ({time.time() - t0:.0f} s in all)")
    print()
    head = (f"{'workload':<18} {'nabla':>9} {'floor':>9} {'torch':>9}  {'nabla/torch':>17} {'floor/torch':>17} "
            f"{'nabla/floor':>17}  result")
    print(head)
    print("-" * len(head))
    for r in results:
        def cell(key):
            s = r[key]
            return f"{s['median']:.3f} ({s['min']:.2f}-{s['max']:.2f})"
        verdict = (f"torch goal <= {r['goal']}: {'pass' if r['pass_torch'] else 'MISS'}; floor goal <= "
                   f"{FLOOR_GOAL}: {'pass' if r['pass_floor'] else 'MISS'}")
        print(f"{r['workload']:<18} {fmt_time(r['nabla_s']):>9} {fmt_time(r['floor_s']):>9} "
              f"{fmt_time(r['torch_s']):>9}  {cell('nabla/torch'):>17} {cell('floor/torch'):>17} "
              f"{cell('nabla/floor'):>17}  {verdict}")
        if r["discarded_rounds"] or (r["others_busy"] and max(r["others_busy"]) > a.max_others):
            print(f"  other processes used up to {max(r['others_busy']):.0%} of the CPUs "
                  f"({r['discarded_rounds']} rounds discarded): figures are less reliable")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
