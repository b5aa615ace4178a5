"""Benchmarks: the pipeline's cost as ratios against a plain baseline, measured side by side in one run."""
