"""Co-design seats: filled by an open call or by stratified sortition, with declines.

An administration may open ``policy.codesign_seats`` seats per 1,000 residents each month:
places in a co-design panel (group mode, designer level). Who sits there depends on how the
seats are filled:

- **open call**: the call is public; residents hear of it in random order and come forward
  or not; the first volunteers get the seats. Nobody is asked personally.
- **stratified sortition**: residents are drawn at random within strata (the
  administration's residents by status quintile, seats in proportion to each stratum's
  residents) and invited personally; one who declines is replaced by another draw from the
  same stratum, up to ``policy.seat_redraws`` times per seat. France's Convention Citoyenne
  pour le Climat drew its 150 members by phone in this way, with quotas on sex, age,
  education, occupation and area (Giraudet et al. 2022, Humanities and Social Sciences
  Communications 9, 207).

Who declines is part of the answer: acceptance rises with the resources the designer level
asks for, so strata fill unevenly and, within a stratum, those who accept are the better
resourced. The month draws two uniforms per citizen from a ``sortition`` stream of its own
(an order key and an acceptance draw) only when seats are open.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import expit

from coprod_sim.names import MODES, N_QUINTILES
from coprod_sim.params import Parameters
from coprod_sim.rules.levels import DESIGNER

SEAT_MODE = MODES.index("group")
"""A co-design seat is a group episode (a panel)."""
SEAT_LEVEL = DESIGNER


class SeatFill(NamedTuple):
    """Who got a seat this month, and who was asked and accepted, by status quintile."""

    holders: np.ndarray  # bool (n,)
    asked: np.ndarray  # int (5,): residents asked (sortition) or reached (open call)
    accepted: np.ndarray  # int (5,): of those, who accepted (= seat holders)


def seat_acceptance(index, params: Parameters, personal: bool):
    """Chance that a resident takes a seat: sigmoid(beta_seat + delta_1 D - w_inv 1[not asked]).

    D is the resource index of the designer level (:func:`~coprod_sim.rules.levels.resource_index`)
    and delta_1 its demand slope: sitting on a design panel asks the same efficacy, skills
    and time as any co-design. Being asked personally adds the invitation weight w_inv of
    the mode choice: people take part much more when asked (Verba, Schlozman & Brady 1995,
    ch. 5), so an open call, which asks nobody, draws fewer and better-resourced volunteers.
    """
    w_inv = 0.0 if personal else params.citizens.invitation_weight
    return expit(params.levels.seat_acceptance_base + params.levels.demand_designer * index - w_inv)


def seats_per_administration(residents: np.ndarray, seats_per_1000: float) -> np.ndarray:
    """Seats each administration opens this month: rint(seats per 1,000 x residents / 1,000)."""
    return np.rint(seats_per_1000 * np.asarray(residents, float) / 1000.0).astype(np.int64)


def stratum_quotas(seats: np.ndarray, residents: np.ndarray) -> np.ndarray:
    """Seats per stratum (A, S), in proportion to its residents, summing to each row's seats.

    Largest remainders, ties to the lower stratum; a row with no residents gets no seats.
    """
    residents = np.asarray(residents, float)
    total = residents.sum(axis=1, keepdims=True)
    share = np.divide(seats[:, None] * residents, total, out=np.zeros_like(residents),
                      where=total > 0)
    quota = np.floor(share).astype(np.int64)
    short = np.where(total[:, 0] > 0, seats - quota.sum(axis=1), 0)
    order = np.argsort(-(share - quota), axis=1, kind="stable")
    for a in np.flatnonzero(short > 0):
        quota[a, order[a, : short[a]]] += 1
    return quota


def fill_seats(eligible: np.ndarray, administration: np.ndarray, quintile: np.ndarray,
               seats: np.ndarray, method: str, p_accept: np.ndarray, keys: np.ndarray,
               u_accept: np.ndarray, redraws: int) -> SeatFill:
    """Fill each administration's ``seats`` from the ``eligible`` residents.

    Residents are taken in the order of their random ``keys`` within each stratum (an
    administration for an open call; administration x status quintile for sortition, with
    quotas from :func:`stratum_quotas` over all residents). Each one reached accepts when
    ``u_accept < p_accept``; a stratum stops once its seats are filled, or, for sortition,
    once it has asked seats x (1 + ``redraws``) residents (declined seats stay empty).
    """
    n_admin = len(seats)
    if method == "sortition":
        stratum = administration.astype(np.int64) * N_QUINTILES + quintile
        residents = np.bincount(stratum, minlength=n_admin * N_QUINTILES)
        quota = stratum_quotas(seats, residents.reshape(n_admin, N_QUINTILES)).ravel()
        limit = quota * (1 + int(redraws))
    else:
        stratum = administration.astype(np.int64)
        quota = np.asarray(seats, np.int64)
        limit = np.full(n_admin, len(eligible), np.int64)
    idx = np.flatnonzero(eligible)
    order = idx[np.lexsort((keys[idx], stratum[idx]))]
    s = stratum[order]
    per_stratum = np.bincount(s, minlength=len(quota))
    start = np.cumsum(per_stratum) - per_stratum
    rank = np.arange(len(order)) - start[s]
    accepts = u_accept[order] < p_accept[order]
    running = np.cumsum(accepts)
    before = running - accepts - np.concatenate(([0], running))[start[s]]
    asked = (rank < limit[s]) & (before < quota[s])
    holders = np.zeros(len(eligible), bool)
    holders[order[asked & accepts]] = True
    q = quintile[order]
    return SeatFill(holders, np.bincount(q[asked], minlength=N_QUINTILES),
                    np.bincount(q[asked & accepts], minlength=N_QUINTILES))


__all__ = ["SEAT_LEVEL", "SEAT_MODE", "SeatFill", "fill_seats", "seat_acceptance",
           "seats_per_administration", "stratum_quotas"]
