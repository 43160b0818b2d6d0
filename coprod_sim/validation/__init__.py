"""Checks of the model against the stylised facts of docs/facts.md, and its calibration.

Each fact's experiment is a scenario file of the one loader (``scenarios/facts/`` and, for
F12, ``scenarios/threshold_spread.toml``); its runs go to the sweep engine's executors; its
estimates come from :mod:`coprod_sim.stats`. Started by ``coprod facts`` and
``coprod calibrate-defaults``.
"""
