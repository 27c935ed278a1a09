"""Anomaly benchmarks: labelled cost series (data.py), naive baselines (baselines.py), the cost
benchmark (benchmark.py) and the Numenta Anomaly Benchmark run (nab.py)."""
