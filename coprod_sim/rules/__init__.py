"""Rules: small pure functions over arrays, one per stage of the month, chosen by name."""

from coprod_sim.names import STAGES
from coprod_sim.rules.base import Administrations, Feedback, Screening, State
from coprod_sim.rules.registry import RuleError, available, resolve, rule, selected

__all__ = [
    "STAGES", "Administrations", "Feedback", "RuleError", "Screening", "State",
    "available", "resolve", "rule", "selected",
]
