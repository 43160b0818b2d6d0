"""Levels of involvement: the level each offer is made at, on arrays of citizens.

Each accepted episode has a *mode* (individual, group, collective: how many act together)
and a *level* (executor, designer, initiator: how much control the citizen has over the
service; Voorberg, Bekkers & Tummers 2015, Public Management Review 17(9)). The equations
are written once in :mod:`coprod_sim.rules.equations` (``level_utilities``,
``chosen_level``, ``control_acceptance``, ``level_success_shift``, ``mastery_gain_at``,
``episode_output``, ``individual_mode_shift``), with their sources; this module applies them
to whole arrays for the NumPy month, and names the levels. The month draws one uniform per
citizen from a ``level`` stream of its own, so adding levels shifts no existing draw.
"""

from __future__ import annotations

import numpy as np

from coprod_sim.names import LEVELS, NO_LEVEL, NO_MODE
from coprod_sim.rules import equations as eq

EXECUTOR, DESIGNER, INITIATOR = (LEVELS.index(name) for name in ("executor", "designer", "initiator"))


def offer_levels(efficacy: np.ndarray, competence: np.ndarray, resources: np.ndarray,
                 peer_share: np.ndarray, offered: np.ndarray, rho_eff: np.ndarray,
                 uniform: np.ndarray, k: eq.Coefficients) -> np.ndarray:
    """The level each citizen's offer is taken on at this month (int8; NO_LEVEL if no offer).

    The citizen chooses a level and the administration keeps it or takes the citizen on as an
    executor (``offered_level``: one uniform per citizen serves both; ``rho_eff`` the effective
    risk aversion of each citizen's administration). Every citizen's
    level is computed with the equations the compiled month evaluates for those who offer
    (``exp`` in NumPy on both paths), then kept only for the offers.
    """
    index = eq.resource_index(efficacy, competence, resources)
    designer, initiator = eq.level_utilities(index, peer_share, k)
    level = eq.offered_level(np.exp(designer), np.exp(initiator), uniform, rho_eff, k)
    return np.where(offered != NO_MODE, level, NO_LEVEL).astype(np.int8)


def level_probabilities(index, peer_share, k: eq.Coefficients) -> np.ndarray:
    """p_l of each level for resource index ``index`` and active-tie share ``peer_share``,
    (..., 3), each row summing to 1 (what :func:`offer_levels` samples from)."""
    designer, initiator = eq.level_utilities(np.asarray(index, float),
                                             np.asarray(peer_share, float), k)
    e1, e2 = np.exp(designer), np.exp(initiator)
    d = 1.0 + (e1 + e2)
    return np.stack([1.0 / d, e1 / d, e2 / d], axis=-1)


__all__ = ["DESIGNER", "EXECUTOR", "INITIATOR", "LEVELS", "NO_LEVEL", "level_probabilities",
           "offer_levels"]
