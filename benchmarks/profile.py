"""Profile one workload's step under nabla with cProfile: where the time goes, function by function.

    python -m benchmarks.profile NAME [--steps N] [--sort tottime|cumtime] [--limit 30]

cProfile adds a fixed cost to every Python call, so tiny functions look bigger than they are: read the
call counts and the relative order, and confirm a suspicion with a timing (benchmarks.worker).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats

from .workloads import get


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    p.add_argument("name")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--sort", default="tottime")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--framework", default="nabla", choices=("nabla", "torch"))
    a = p.parse_args(argv)
    w = get(a.name)
    step = w.setup(a.framework, w.make_config())
    for _ in range(10):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(a.steps):
        step()
    prof.disable()
    print(f"{a.name} ({a.framework}), {a.steps} steps; per-call times include cProfile's own overhead")
    pstats.Stats(prof).sort_stats(a.sort).print_stats(a.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
