"""The month's loops, compiled: the default rules' equations citizen by citizen, and the kernel.

Why: with the default rules a month is some sixty passes of NumPy over arrays of a million
citizens, each allocating a temporary; most of the work concerns the few percent who offer
to take part. Here the same equations (:mod:`coprod_sim.rules.equations`, compiled by
:mod:`coprod_sim.rules.jit`) run in a few loops: utilities for everyone, screening and
outcomes only for those who offer, shares of ties by scattering from the (few) active.

Identical results: the equations are the ones the NumPy rules evaluate on arrays, and the
kernel's own steps (choice, capacity, bookkeeping) are written with the same operations in
the same order as :class:`coprod_sim.month.kernel.Kernel`'s NumPy month (no fast-math). The
random draws are NumPy's, from the same streams and in the same amounts (uniforms nobody
uses are skipped by jumping the stream ahead: :mod:`coprod_sim.month.jumps`); ``exp`` of the
utilities and the logistic function of the success log-odds stay in NumPy/SciPy. Counts of
ties are integers, exact in any order. ``tests/test_accelerated.py`` checks both paths.

Each loop serves one stage, so a custom rule in one stage leaves the others compiled
(:mod:`coprod_sim.month.staged`). Set ``COPROD_ACCELERATE=0`` to use the NumPy month.
"""

from __future__ import annotations

import math

import numpy as np

from coprod_sim.month.jumps import skip
from coprod_sim.names import N_MODES, RESULT_FAILURE, RESULT_NONE, RESULT_REJECTED, RESULT_SUCCESS
from coprod_sim.rules import equations as eq
from coprod_sim.rules.jit import jit

_ONE = np.uint16(1)
POWER_MIN = -1080
POWERS = 3.5 * np.ldexp(1.0, np.arange(POWER_MIN, 80))
"""3.5 * 2^k for k from POWER_MIN (0 in float64) to 79, the bounds used by ``utilities``."""


@jit
def tie_shares(indptr, indices, degree, members, count, counts, out):
    """out = share of each citizen's ties among ``members[:count]``; ``counts`` all zero.

    The adjacency is symmetric, so the ties of k among the members are found by scattering
    from each member j to its ties: the work is the members' ties, not the whole network.
    Shares are count / degree as the NumPy path divides them (exact integer counts), 0 for
    citizens with no flagged tie; ``counts`` is left all zero again.
    """
    touched = 0
    for a in range(count):
        j = members[a]
        touched += indptr[j + 1] - indptr[j]
        for p in range(indptr[j], indptr[j + 1]):
            counts[indices[p]] += 1
    if 32 * touched < out.shape[0]:  # very few ties touched: visit them rather than everybody
        out[:] = 0.0
        for a in range(count):
            j = members[a]
            for p in range(indptr[j], indptr[j + 1]):
                k = indices[p]
                out[k] = counts[k] / degree[k]
        for a in range(count):
            j = members[a]
            for p in range(indptr[j], indptr[j + 1]):
                counts[indices[p]] = 0
        return
    for k in range(out.shape[0]):  # without branches: the division is cheaper than a mispredict
        share = counts[k] / degree[k]
        out[k] = share if counts[k] != 0 else 0.0
        counts[k] = 0


@jit
def peer_active_share(indptr, indices, degree, mode, members, counts, out):
    """Share of each citizen's ties active (any mode) last month, into ``out``."""
    count = 0
    for i in range(mode.shape[0]):  # branch-free compaction (the active are scattered)
        members[count] = i
        count += mode[i] >= 0
    tie_shares(indptr, indices, degree, members, count, counts, out)


@jit
def utilities(efficacy, competence, peer, degree, activity, trust, invited, admin, hood, age,
              female, resources, urban, digital_access, staff_incentives, service_quality, k,
              decision, offered, who, u_who, v):
    """Capped utilities (``logistic_choice``) of the citizens who might offer.

    Each citizen's uniform is drawn from the ``decision`` generator here, in citizen order,
    as ``decision.random(n)`` would give them; those of the candidates go to ``u_who``.

    A citizen offers nothing when u >= sum_m p_m. That sum is below 3.5 * 2^b for
    b = ceil(max_m v_m * log2(e) + 0.001) (exp(v) <= 2^b, rounding included), so a citizen
    whose u is above this bound offers nothing and needs no exp: ``offered`` is set to
    NO_MODE. The others (u below the bound) are written to ``who`` with their capped
    utilities in ``v``; returns how many. ``POWERS`` holds 3.5 * 2^b.
    """
    m = 0
    for i in range(efficacy.shape[0]):
        x0, x1, x2 = eq.mode_utilities(
            efficacy[i], competence[i], peer[i], degree[i], activity[i], trust[i], invited[i],
            staff_incentives[admin[i]], service_quality[hood[i]], age[i], female[i],
            resources[i], urban[hood[i]], digital_access[i], k)
        x0, x1, x2 = eq.capped(x0), eq.capped(x1), eq.capped(x2)
        top = max(x0, max(x1, x2))
        b = math.ceil(top * 1.4426950408889634 + 0.001) - POWER_MIN
        offered[i] = -1
        u = decision.random()
        # Branch-free compaction: written at m always, kept (m advanced) for candidates.
        top_power = POWERS.shape[0] - 1
        bound = POWERS[min(max(b, 0), top_power)]
        who[m] = i
        u_who[m] = u
        v[m, 0] = x0
        v[m, 1] = x1
        v[m, 2] = x2
        m += (b > top_power) | ((b >= 0) & (u < bound))
    return m


@jit
def choose_offers(who, ev, u_who, offered, offerers):
    """Each candidate's choice from p = ``offer_probabilities``(exp v) and its uniform.

    The citizen offers mode m if cum_{m-1} <= u < cum_m (cum the running sum of p), as the
    kernel's ``choose``; offerers are written to ``offerers`` (ascending); returns how many.
    """
    count = 0
    for a in range(who.shape[0]):
        i = who[a]
        p0, p1, p2 = eq.offer_probabilities(ev[a, 0], ev[a, 1], ev[a, 2])
        c1 = p0 + p1
        u = u_who[a]
        choice = (u >= p0) + (u >= c1) + (u >= c1 + p2)
        offers = choice < N_MODES  # u beyond every mode's share: no offer
        offered[i] = choice if offers else -1  # -1 already (``utilities``): branch-free
        offerers[count] = i
        count += offers
    return count


@jit
def choose_all(probs, decision, offered, offerers):
    """The kernel's ``choose`` for a rule's (n, N_MODES) float64 probabilities: each
    citizen's uniform drawn here from ``decision`` in citizen order (as ``random(n)``), the
    same running sums. Sets ``offered``; writes the offerers (ascending) to ``offerers``;
    returns how many."""
    count = 0
    for i in range(probs.shape[0]):
        u = decision.random()
        p0 = probs[i, 0]
        c1 = p0 + probs[i, 1]
        choice = (u >= p0) + (u >= c1) + (u >= c1 + probs[i, 2])
        if choice < N_MODES:
            offered[i] = choice
            offerers[count] = i
            count += 1
        else:
            offered[i] = -1
    return count


@jit
def level_utilities(offerers, efficacy, competence, resources, peer, k, u):
    """``level_utilities`` of each offerer (capped), into ``u`` (offerers x 2)."""
    for a in range(offerers.shape[0]):
        i = offerers[a]
        index = eq.resource_index(efficacy[i], competence[i], resources[i])
        u[a, 0], u[a, 1] = eq.level_utilities(index, peer[i], k)


@jit
def choose_levels(offerers, ev, level_stream, admin, rho_eff, k, level):
    """Each offerer's level (``offered_level``, from exp of its level utilities and its
    uniform); NO_LEVEL for everyone else.

    The uniforms come from ``level_stream`` as ``random(n)`` would give them to all n
    citizens in order; only the offerers' are drawn, the others skipped.
    """
    level[:] = -1
    last = -1
    for a in range(offerers.shape[0]):
        i = offerers[a]
        skip(level_stream, i - last - 1)
        last = i
        u = level_stream[0].random()
        level[i] = eq.offered_level(ev[a, 0], ev[a, 1], u, rho_eff[admin[i]], k)
    skip(level_stream, level.shape[0] - last - 1)


@jit
def clear_levels(offerers, mode, level):
    """NO_LEVEL for the offers that did not get a place."""
    for a in range(offerers.shape[0]):
        i = offerers[a]
        if mode[i] < 0:
            level[i] = -1


@jit
def screen(offerers, offered, invited, admin, competence, ses, rho_eff, rules, screening, k,
           n_modes, passed, priority, group):
    """``risk_screening`` of each offer: those passing go to ``passed`` with their priority
    and group (administration x mode); returns how many passed.

    The rule's uniforms (``rules`` stream) and the kernel's (``screening``) are those
    ``random(n)`` would give all n citizens in order; only the offerers' are drawn, the
    others skipped (:func:`coprod_sim.month.jumps.skip`).
    """
    n_passed = 0
    last = -1
    for a in range(offerers.shape[0]):
        i = offerers[a]
        skip(rules, i - last - 1)
        skip(screening, i - last - 1)
        u_priority, u_screening = rules[0].random(), screening[0].random()
        last = i
        choice = offered[i]
        r = rho_eff[admin[i]]
        rel = eq.reliability(competence[i], ses[i], k)
        if u_screening < eq.acceptance(invited[i], r, choice, rel, k):
            passed[n_passed] = i
            priority[n_passed] = eq.priority(invited[i], r, rel, u_priority)
            group[n_passed] = admin[i] * n_modes + choice
            n_passed += 1
    skip(rules, offered.shape[0] - last - 1)
    skip(screening, offered.shape[0] - last - 1)
    return n_passed


@jit
def pass_offers(offerers, offered, admin, accept, rule_priority, screening, n_modes, passed,
                priority, group):
    """``screen`` for a screening rule's own ``accept`` and ``priority`` arrays."""
    n_passed = 0
    last = -1
    for a in range(offerers.shape[0]):
        i = offerers[a]
        skip(screening, i - last - 1)
        last = i
        if screening[0].random() < accept[i]:
            passed[n_passed] = i
            priority[n_passed] = rule_priority[i]
            group[n_passed] = admin[i] * n_modes + offered[i]
            n_passed += 1
    skip(screening, offered.shape[0] - last - 1)
    return n_passed


@jit
def coparticipant_shares(admitted, mode, indptr, indices, degree, members, counts, out):
    """Share of each citizen's ties active this month in group or collective mode."""
    count = 0
    for a in range(admitted.shape[0]):
        i = admitted[a]
        if mode[i] >= 1:
            members[count] = i
            count += 1
    tie_shares(indptr, indices, degree, members, count, counts, out)


@jit
def success_logits(admitted, mode, competence, admin, collaboration, coparticipant, level, k,
                   logit):
    """``competence_collaboration``'s log-odds of each admitted episode.

    collaboration[a] = sigma_a - rho_a of administration a.
    """
    for a in range(admitted.shape[0]):
        i = admitted[a]
        logit[a] = eq.success_log_odds(competence[i], mode[i], coparticipant[i],
                                       collaboration[admin[i]], level[i], k)


@jit
def draw_outcomes(admitted, p_success, outcome, mode, level, admin, hood, k, success, members,
                  admin_successes, admin_failures, output):
    """Which admitted episodes succeed (u < p, u from the ``outcome`` generator drawn for all
    citizens in order); the administrations' counts and each neighbourhood's coproduced
    output. Returns how many succeeded, listed in ``members``."""
    admin_successes[:] = 0
    admin_failures[:] = 0
    output[:] = 0.0
    count = 0
    last = -1
    for a in range(admitted.shape[0]):
        i = admitted[a]
        skip(outcome, i - last - 1)
        last = i
        if outcome[0].random() < p_success[a]:
            success[i] = True
            members[count] = i
            count += 1
            admin_successes[admin[i]] += 1
            output[hood[i]] += eq.episode_output(mode[i], level[i], k)
        else:
            admin_failures[admin[i]] += 1
    skip(outcome, mode.shape[0] - last - 1)
    return count


@jit
def settle(count, members, success, offered, mode, level, indptr, indices, degree, counts, result,
           episodes, successes, rejections, activity, activity_by_mode, activity_by_level,
           tie_success, efficacy, efficacy_baseline, trust, trust_baseline, k, feedback):
    """Results, bookkeeping, the shares of ties that succeeded and, with ``feedback``,
    ``mastery_vicarious``; the ``count`` successes are ``members[:count]``. ``success`` is
    left all False."""
    # Passes of their own for the shares of ties and the histories: a loop with less in it
    # compiles to vector instructions (one fused loop took twice as long).
    tie_shares(indptr, indices, degree, members, count, counts, tie_success)
    for i in range(offered.shape[0]):
        m = mode[i]
        accepted = m >= 0
        s = success[i]
        f = accepted and not s
        rej = offered[i] >= 0 and not accepted
        result[i] = RESULT_SUCCESS if s else (RESULT_FAILURE if f else (
            RESULT_REJECTED if rej else RESULT_NONE))
        episodes[i] += accepted  # no branches: offers are scattered, branches mispredict
        successes[i] += s
        rejections[i] += rej
        lv = level[i]
        if feedback:
            efficacy[i] = eq.self_efficacy_after(efficacy[i], efficacy_baseline[i], s, f, rej,
                                                 tie_success[i], lv if lv > 0 else 0, k)
            trust[i] = eq.trust_after(trust[i], trust_baseline[i], s, f, rej, k)
    for a in range(count):
        success[members[a]] = False
    shift_histories(mode, level, activity, activity_by_mode, activity_by_level)


@jit
def shift_histories(mode, level, activity, activity_by_mode, activity_by_level):
    """Shift each citizen's activity histories by a month and set this month's bits.

    A loop of its own: with nothing else in it, it compiles to vector instructions.
    """
    for i in range(mode.shape[0]):
        m, lv = mode[i], level[i]
        activity[i] = (activity[i] << _ONE) | np.uint16(m >= 0)
        activity_by_mode[0, i] = (activity_by_mode[0, i] << _ONE) | np.uint16(m == 0)
        activity_by_mode[1, i] = (activity_by_mode[1, i] << _ONE) | np.uint16(m == 1)
        activity_by_mode[2, i] = (activity_by_mode[2, i] << _ONE) | np.uint16(m == 2)
        activity_by_level[0, i] = (activity_by_level[0, i] << _ONE) | np.uint16(lv == 0)
        activity_by_level[1, i] = (activity_by_level[1, i] << _ONE) | np.uint16(lv == 1)
        activity_by_level[2, i] = (activity_by_level[2, i] << _ONE) | np.uint16(lv == 2)
