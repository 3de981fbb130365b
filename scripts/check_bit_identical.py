#!/usr/bin/env python3
"""Train the reference runs again with the current `nabla` and compare their weights bit for bit.

tests/fixtures/bit_identical.json holds, for a few short training runs, the command line and the
sha256 of every model weight array of the run's ``last.safetensors`` as nabla e478c76 wrote it.  This
script runs each command again (the installed ``nabla``, or ``--nabla "CMD"``) in a fresh temporary
folder, hashes the new weights the same way and prints one row per case:

    python scripts/check_bit_identical.py                 # every case (a few minutes: char-lstm is slow)
    python scripts/check_bit_identical.py mlp lenet5      # some of them
    python scripts/check_bit_identical.py --record        # rewrite the file from the current code

It exits 0 when every weight matches, 1 on any mismatch (the differing arrays are listed), 2 when a
command fails.  A weight's hash is the sha256 of its raw bytes (C order) as ``safetensors.numpy``
loads it; keys are the model's state-dict names (``model.`` prefix stripped).

The commands lean on each model's training defaults (optimizer, lr, batch size, schedule), so a changed
default is a mismatch too -- a real change of what the command does.  To tell it from a numerical
change, pin the old settings: ``--extra "lenet5=--lr 0.001"`` appends flags to one case's command
(e478c76's defaults: adam lr 0.001 for all four, batch 128 for the sequence models).  The hashes hold on
the machine and NumPy/BLAS build that recorded them: another BLAS, or another thread count, may sum
in another order, which is a real (if harmless) difference this script will report.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "fixtures" / "bit_identical.json"

# the argv after `nabla`; {out} is a fresh folder that does not exist yet
CASES = {  # the settings whose defaults changed since e478c76 are named, so each command means what it meant
    "mlp": ["train", "mlp", "--dataset", "mnist-5k", "--epochs", "2", "--seed", "0", "--quiet", "--out", "{out}"],
    "lenet5": ["train", "lenet5", "--dataset", "mnist-5k", "--epochs", "2", "--seed", "0", "--quiet", "--lr", "0.001", "--out", "{out}"],
    "char-lstm": ["train", "char-lstm", "--dataset", "kjv", "--max-steps", "50", "--seed", "0", "--quiet", "--eval-limit", "500", "--eval-tokens", "5000", "--num-samples", "1", "--length", "10", "--lr", "0.001", "--batch-size", "128", "--seq-len", "128", "--epochs", "10", "--out", "{out}"],
    "seq2seq-attn": ["train", "seq2seq-attn", "--dataset", "cmudict", "--max-steps", "50", "--seed", "0", "--quiet", "--eval-limit", "500", "--num-samples", "1", "--length", "10", "--lr", "0.001", "--batch-size", "128", "--epochs", "10", "--out", "{out}"],
}


def weight_hashes(path) -> dict:
    """{state-dict name: {"sha256", "dtype", "shape"}} for every model array of a checkpoint file."""
    from safetensors.numpy import load_file
    arrays = load_file(str(path))
    model = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    if not model:  # a layout without the prefix: everything that is not optimizer state
        model = {k: v for k, v in arrays.items() if not k.startswith("optimizer.")}
    import numpy as np
    return {k: {"sha256": hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest(),
                "dtype": str(v.dtype), "shape": list(v.shape)}
            for k, v in sorted(model.items())}


def dump(reference: dict) -> str:
    """The reference as JSON, one weight per line."""
    text = json.dumps(reference, indent=1)
    return re.sub(r"\{\s*\"sha256\":[^{}]*\}", lambda m: " ".join(m.group(0).split()), text) + "\n"


def nabla_command(spec: str | None) -> list:
    if spec:
        return shlex.split(spec)
    exe = shutil.which("nabla")
    return [exe] if exe else [sys.executable, "-m", "nabla.cli"]


def recorded_environment() -> dict:
    """This process's environment with OpenBLAS forced to the kernel and thread count the reference was
    recorded with: the kernels (Haswell, SkylakeX, ...) sum in different orders, so the same code gives other
    last bits on another CPU; any x86-64 CPU with AVX2 runs the Haswell kernel."""
    record = json.loads((Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "bit_identical.json")
                        .read_text())["recorded_with"]
    env = dict(os.environ)
    if record.get("blas_kernel"):
        env["OPENBLAS_CORETYPE"] = record["blas_kernel"]
    if record.get("blas_threads"):  # a GEMM split over another number of threads sums in another order
        env["OPENBLAS_NUM_THREADS"] = str(record["blas_threads"])
    return env


def run_case(name: str, argv: list, nabla: list, keep: bool = False):
    """Run one case in a temporary folder; return (hashes, seconds, the run's last.safetensors path)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bitid-{name}-"))
    out = tmp / "run"
    cmd = nabla + [a.replace("{out}", str(out)) for a in argv]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=recorded_environment())
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{name}: `{shlex.join(cmd)}` exited {proc.returncode}:\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        ckpt = out / "last.safetensors"
        if not ckpt.is_file():
            raise RuntimeError(f"{name}: `{shlex.join(cmd)}` wrote no {ckpt}")
        return weight_hashes(ckpt), seconds
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def compare(expected: dict, got: dict) -> list:
    """The names of the arrays that differ (missing, extra, or different bytes / dtype / shape)."""
    bad = [k for k in expected if k not in got or got[k] != expected[k]]
    bad += [k for k in got if k not in expected]
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help=f"which ({', '.join(CASES)}; default: all)")
    ap.add_argument("--nabla", help='the command that runs nabla (default: the installed `nabla`), '
                                    'e.g. --nabla "python -m nabla.cli"')
    ap.add_argument("--record", action="store_true", help=f"write {REFERENCE.relative_to(ROOT)} from this code")
    ap.add_argument("--reference", default=str(REFERENCE))
    ap.add_argument("--extra", action="append", default=[], metavar="CASE=FLAGS",
                    help='flags appended to one case\'s command, e.g. --extra "lenet5=--lr 0.001"')
    args = ap.parse_args(argv)
    names = args.cases or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; valid: {', '.join(CASES)}")
    nabla = nabla_command(args.nabla)
    extra = {}
    for item in args.extra:
        case, _, flags = item.partition("=")
        if case not in CASES:
            ap.error(f"--extra {item!r}: unknown case {case!r}")
        extra[case] = shlex.split(flags)
    ref_path = Path(args.reference)
    reference = json.loads(ref_path.read_text()) if ref_path.is_file() else {"cases": {}}
    if not args.record and not ref_path.is_file():
        print(f"no reference file {ref_path}; run with --record first", file=sys.stderr)
        return 2

    rows, failed, broken = [], False, False
    for name in names:
        argv_ = (CASES[name] if args.record else reference["cases"][name]["argv"]) + extra.get(name, [])
        try:
            got, seconds = run_case(name, argv_, nabla)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            rows.append((name, "ERROR", "-", "-", "-"))
            broken = True
            continue
        if args.record:
            reference["cases"][name] = {"command": "nabla " + shlex.join(argv_).replace("'{out}'", "{out}"),
                                        "argv": argv_, "weights": got}
            rows.append((name, "recorded", str(len(got)), "-", f"{seconds:.1f}"))
            continue
        bad = compare(reference["cases"][name]["weights"], got)
        failed |= bool(bad)
        rows.append((name, "MISMATCH" if bad else "identical",
                     str(len(reference["cases"][name]["weights"])), str(len(bad)), f"{seconds:.1f}"))
        for k in bad:
            e, g = reference["cases"][name]["weights"].get(k), got.get(k)
            print(f"  {name}: {k}: expected {e and e['sha256'][:16]} {e and e['dtype']} {e and e['shape']}, "
                  f"got {g and g['sha256'][:16]} {g and g['dtype']} {g and g['shape']}", file=sys.stderr)

    head = ("case", "result", "arrays", "differ", "seconds")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    if args.record:
        reference["about"] = ("sha256 of each model weight array (raw bytes, C order; state-dict names) of "
                              "last.safetensors after each command, as the code that recorded it wrote them; "
                              "checked by scripts/check_bit_identical.py")
        import numpy as np
        reference["recorded_with"] = {"numpy": np.__version__, "python": sys.version.split()[0],
                                      "nabla_command": shlex.join(nabla)}
        ref_path.write_text(dump(reference))
        print(f"wrote {ref_path}")
    if broken:
        return 2
    if failed:
        print("MISMATCH: the current code does not reproduce the recorded weights", file=sys.stderr)
        return 1
    print("all weights identical" if not args.record else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
