"""Experiments on coprod-sim: validation against docs/facts.md, calibration, sensitivity analysis.

Run from the repository root, e.g. ``.venv/bin/python -m experiments.validation``.
"""
