"""Side-by-side timings of nabla against PyTorch (CPU), one framework per process.

    python -m benchmarks [names...]          # or: python benchmarks/run.py [names...]

See benchmarks/README.md for the method, the machine and the figures.
"""
