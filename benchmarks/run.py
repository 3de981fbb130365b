"""Run the benchmarks: ``python benchmarks/run.py [names...] [--pairs 5]`` (same as ``python -m benchmarks``)."""
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
