"""Why the bias arises, where it is high, and which affordable policy mix lowers it.

``explain`` (Shapley decomposition over channels), ``discovery`` (PRIM boxes over a sampled
sweep) and ``optimise`` (many-objective search over levers). Heavy libraries (optuna,
ema_workbench, matplotlib) are imported inside the functions that need them.
"""
