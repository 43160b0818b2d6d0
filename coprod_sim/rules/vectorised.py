"""Compiled loops over arrays for the default rules, used when compiled code is on.

The default participation rule is the one researchers most often call inside rules of their
own; evaluated by NumPy it makes some twenty passes over arrays of n citizens. These loops
evaluate the same equations (:mod:`coprod_sim.rules.equations`) citizen by citizen, with the
same operations in the same order, so the rule returns the same bits either way
(``tests/test_accelerated.py``). ``exp`` stays in NumPy.
"""

from __future__ import annotations

from coprod_sim.rules import equations as eq
from coprod_sim.rules.jit import jit


@jit
def mode_utilities(efficacy, competence, peer, degree, activity, trust, invited, admin, hood, age, female,
                   resources, urban, digital_access, staff_incentives, service_quality, k, v):
    """v[i] = ``equations.mode_utilities`` of citizen i (uncapped)."""
    for i in range(efficacy.shape[0]):
        x0, x1, x2 = eq.mode_utilities(
            efficacy[i], competence[i], peer[i], degree[i], activity[i], trust[i], invited[i],
            staff_incentives[admin[i]], service_quality[hood[i]], age[i], female[i],
            resources[i], urban[hood[i]], digital_access[i], k)
        v[i, 0] = x0
        v[i, 1] = x1
        v[i, 2] = x2


@jit
def offer_probabilities(ev, p):
    """p[i] = ``equations.offer_probabilities`` of the exponentiated utilities ev[i]."""
    for i in range(ev.shape[0]):
        p0, p1, p2 = eq.offer_probabilities(ev[i, 0], ev[i, 1], ev[i, 2])
        p[i, 0] = p0
        p[i, 1] = p1
        p[i, 2] = p2
