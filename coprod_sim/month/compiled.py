"""The default month, compiled: a fused Numba version of the default rules and the kernel.

Why: with the default rules a month is some sixty passes of NumPy over arrays of a million
citizens, each allocating a temporary; most of the work concerns the few percent who offer
to take part. Here the same equations run in a few compiled loops, screening and outcomes
only for those who offer, and shares of ties by scattering from the (few) active citizens.

Identical results: the equations are those of :mod:`coprod_sim.rules.defaults` and
:class:`coprod_sim.month.kernel.Kernel`, written with the same operations in the same order (no
fast-math, so no reassociation or fused multiply-add). The random draws are NumPy's, from the
same streams and in the same amounts. The two transcendental steps stay in NumPy/SciPy
(``np.exp`` of the utilities, ``scipy.special.expit`` of the success log-odds), because
NumPy's vectorised ``exp`` and the C library's differ in the last bit for a few inputs.
Counts of ties are integers, exact in any order. ``tests/test_accelerated.py`` and
``benchmarks/run.py`` check that both paths give the same results bit for bit.

Any change to the default rules must be mirrored here; the test above fails until it is.
Set ``COPROD_ACCELERATE=0`` (or ``Kernel(..., accelerate=False)``) to use the NumPy path.
"""

from __future__ import annotations

import math
import os

import numpy as np

from coprod_sim.names import N_MODES, RESULT_FAILURE, RESULT_NONE, RESULT_REJECTED, RESULT_SUCCESS

try:  # Numba is a dependency; without it the kernel's NumPy path does the work.
    from numba import njit
except ImportError:  # pragma: no cover - exercised only where numba is missing
    njit = None

AVAILABLE = njit is not None

POWER_MIN = -1080
POWERS = 3.5 * np.ldexp(1.0, np.arange(POWER_MIN, 80))
"""3.5 * 2^k for k from POWER_MIN (0 in float64) to 79, the bounds used by ``utilities``."""


def enabled_by_default() -> bool:
    """Whether the accelerated path is used when not asked otherwise (env COPROD_ACCELERATE)."""
    return AVAILABLE and os.environ.get("COPROD_ACCELERATE", "1").strip().lower() not in (
        "0", "false", "no", "off")


def _jit(fn):
    # error_model="numpy": IEEE division (no Python zero-division checks in the loops); every
    # division here has a non-zero denominator, so results are unchanged.
    return njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")(fn) if AVAILABLE else fn


@_jit
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
    for k in range(out.shape[0]):
        if counts[k]:
            out[k] = counts[k] / degree[k]
            counts[k] = 0
        else:
            out[k] = 0.0


@_jit
def peer_active_share(indptr, indices, degree, mode, members, counts, out):
    """Share of each citizen's ties active (any mode) last month, into ``out``."""
    count = 0
    for i in range(mode.shape[0]):
        if mode[i] >= 0:
            members[count] = i
            count += 1
    tie_shares(indptr, indices, degree, members, count, counts, out)


@_jit
def utilities(efficacy, competence, peer, trust, invited, admin, hood, age, female, resources,
              incentive_term, quality_term, scalars, u_decision, offered, who, v):
    """Utilities of the three modes (``logistic_choice``) of the citizens who might offer.

    scalars: w_e, w_c, w_p, w_t, w_inv, info, age_mean, base0..2, effort0..2 (already times
    w_eff), age_ind, female_ind, age_coll. incentive_term[a] = w_s sigma_a and
    quality_term[k] = w_q (q_k - 1/2), as the rule computes them element by element.

    A citizen offers nothing when u >= sum_m p_m. That sum is below 3.5 * 2^k for
    k = ceil(max_m v_m * log2(e) + 0.001) (exp(v) <= 2^k, rounding included), so a citizen
    whose u is above this bound offers nothing and needs no exp: ``offered`` is set to
    NO_MODE. The others (u below the bound) are written to ``who`` with their capped
    utilities in ``v``; returns how many. ``POWERS`` holds 3.5 * 2^k.
    """
    w_e, w_c, w_p, w_t, w_inv, info, age_mean = scalars[0], scalars[1], scalars[2], scalars[3], \
        scalars[4], scalars[5], scalars[6]
    b0, b1, b2, f0, f1, f2 = scalars[7], scalars[8], scalars[9], scalars[10], scalars[11], scalars[12]
    a_ind, fem_ind, a_coll = scalars[13], scalars[14], scalars[15]
    m = 0
    for i in range(efficacy.shape[0]):
        common = w_e * (efficacy[i] - 0.5)
        common = common + w_c * (competence[i] - 0.5)
        common = common + w_p * peer[i]
        common = common + w_t * (trust[i] - 0.5)
        common = common + w_inv * (1.0 if invited[i] else 0.0)
        common = common + incentive_term[admin[i]]
        common = common + info
        common = common - quality_term[hood[i]]
        age_i = age[i] - age_mean
        lack = 1.0 - resources[i]
        x0 = common + b0 - f0 * lack + a_ind * age_i + fem_ind * (1.0 if female[i] else 0.0)
        demography = a_coll * age_i
        x1 = common + b1 - f1 * lack + demography
        x2 = common + b2 - f2 * lack + demography
        x0 = x0 if x0 < 50.0 else 50.0
        x1 = x1 if x1 < 50.0 else 50.0
        x2 = x2 if x2 < 50.0 else 50.0
        top = max(x0, max(x1, x2))
        k = math.ceil(top * 1.4426950408889634 + 0.001) - POWER_MIN
        offered[i] = -1
        if k >= POWERS.shape[0] or (k >= 0 and u_decision[i] < POWERS[k]):
            who[m] = i
            v[m, 0] = x0
            v[m, 1] = x1
            v[m, 2] = x2
            m += 1
    return m


@_jit
def choose_screen_and_admit(who, ev, u_decision, u_priority, u_screening, invited, admin,
                            competence, ses, rho, screening_share, w_reliability, capacity,
                            offered, mode, admitted):
    """Mode choice, screening and capacity for the citizens in ``who`` (ascending).

    Choice: p_m = ev_m / (1 + sum ev); the citizen offers mode m if cum_{m-1} <= u < cum_m.
    Screening (``risk_screening``): an offer passes with probability accept; priority orders
    the passed offers of each administration and mode, and the ``capacity`` highest get a
    place (ties to the lower index), as ``within_capacity``. Sets ``offered`` and ``mode``
    (all of ``mode``); writes the admitted citizens, ascending, to ``admitted``; returns how
    many.
    """
    n_modes = capacity.shape[1]
    n_groups = capacity.shape[0] * n_modes
    m = who.shape[0]
    passed = np.empty(m, np.int32)
    priority = np.empty(m)
    group = np.empty(m, np.int64)
    n_passed = 0
    w0 = 1.0 - w_reliability
    for a in range(m):
        i = who[a]
        e0, e1, e2 = ev[a, 0], ev[a, 1], ev[a, 2]
        d = 1.0 + (e0 + e1 + e2)
        c0 = e0 / d
        c1 = c0 + e1 / d
        c2 = c1 + e2 / d
        u = u_decision[i]
        choice = (u >= c0) + (u >= c1) + (u >= c2)
        if choice == N_MODES:  # u beyond every mode's share: no offer
            continue
        offered[i] = choice
        r = rho[admin[i]]
        rel = w0 * competence[i] + w_reliability * ses[i]
        inv = 1.0 if invited[i] else 0.0
        accept = 1.0 if invited[i] else 1.0 - r * screening_share[choice] * (1.0 - rel)
        if u_screening[i] < accept:
            passed[n_passed] = i
            priority[n_passed] = inv + r * rel + (1.0 - r) * u_priority[i]
            group[n_passed] = admin[i] * n_modes + choice
            n_passed += 1
    # Capacity: a group within its capacity is admitted whole; otherwise its offers are
    # ranked by priority, high first, ties to the lower index (a stable sort of -priority).
    size = np.zeros(n_groups, np.int64)
    for a in range(n_passed):
        size[group[a]] += 1
    keep = np.ones(n_passed, np.bool_)
    for g in range(n_groups):
        cap = capacity[g // n_modes, g % n_modes]
        if size[g] <= cap:
            continue
        members = np.empty(size[g], np.int32)
        k = 0
        for a in range(n_passed):
            if group[a] == g:
                members[k] = a
                k += 1
        order = np.argsort(-priority[members], kind="mergesort")
        for r in range(cap, size[g]):
            keep[members[order[r]]] = False
    mode[:] = -1
    count = 0
    for a in range(n_passed):
        if keep[a]:
            i = passed[a]
            mode[i] = offered[i]
            admitted[count] = i
            count += 1
    return count


@_jit
def admit_and_logits(who, ev, u_decision, u_priority, u_screening, invited, admin, competence,
                     ses, rho, screening_share, w_reliability, capacity, offered, mode, admitted,
                     indptr, indices, degree, members, counts, coparticipant, collaboration_term,
                     scalars, logit):
    """``choose_screen_and_admit`` then ``outcome_logits``; returns how many were admitted."""
    count = choose_screen_and_admit(who, ev, u_decision, u_priority, u_screening, invited,
                                    admin, competence, ses, rho, screening_share,
                                    w_reliability, capacity, offered, mode, admitted)
    outcome_logits(admitted[:count], mode, indptr, indices, degree, members, counts,
                   coparticipant, competence, admin, collaboration_term, scalars,
                   logit[:count])
    return count


@_jit
def outcome_logits(admitted, mode, indptr, indices, degree, members, counts, coparticipant,
                   competence, admin, collaboration_term, scalars, logit):
    """Co-participant shares and the success log-odds of each admitted episode.

    scalars: success_base, w_competence, w_coparticipant, difficulty of modes 0..2;
    collaboration_term[a] = w_col (sigma_a - rho_a); as ``competence_collaboration``.
    """
    count = 0
    for a in range(admitted.shape[0]):
        i = admitted[a]
        if mode[i] >= 1:
            members[count] = i
            count += 1
    tie_shares(indptr, indices, degree, members, count, counts, coparticipant)
    base, w_c, w_co = scalars[0], scalars[1], scalars[2]
    for a in range(admitted.shape[0]):
        i = admitted[a]
        m = mode[i]
        together = (1.0 if m >= 1 else 0.0) * coparticipant[i]
        x = base + w_c * (competence[i] - 0.5)
        x = x + collaboration_term[admin[i]]
        x = x + w_co * together
        logit[a] = x - scalars[3 + m]


@_jit
def settle_month(admitted, p_success, u_outcome, offered, mode, admin, hood, indptr, indices,
                 degree, members, counts, result, episodes, successes, rejections, activity,
                 activity_by_mode, tie_success, efficacy, efficacy_baseline, trust,
                 trust_baseline, scalars, admin_successes, admin_failures, output, success):
    """Outcomes, bookkeeping, vicarious shares and the feedback (``mastery_vicarious``).

    scalars: gain, loss, reject, vicarious (each already f g capped at 1), efficacy drift,
    trust gain, trust loss, trust drift, output weight of modes 0..2. ``success`` is a
    work array of n booleans, left all False.
    """
    n = offered.shape[0]
    admin_successes[:] = 0
    admin_failures[:] = 0
    output[:] = 0.0
    count = 0
    for a in range(admitted.shape[0]):
        i = admitted[a]
        if u_outcome[i] < p_success[a]:
            success[i] = True
            members[count] = i
            count += 1
            admin_successes[admin[i]] += 1
            output[hood[i]] += scalars[8 + mode[i]]
        else:
            admin_failures[admin[i]] += 1
    # Vicarious experience: scatter the successes to their ties; the shares are taken (and
    # the counts cleared) in the loop below, as tie_shares does.
    for a in range(count):
        j = members[a]
        for p in range(indptr[j], indptr[j + 1]):
            counts[indices[p]] += 1
    gain, loss, reject, vicarious = scalars[0], scalars[1], scalars[2], scalars[3]
    drift, t_gain, t_loss, t_drift = scalars[4], scalars[5], scalars[6], scalars[7]
    for i in range(n):
        if counts[i]:
            tie_success[i] = counts[i] / degree[i]
            counts[i] = 0
        else:
            tie_success[i] = 0.0
        m = mode[i]
        accepted = m >= 0
        s = success[i]
        f = accepted and not s
        rej = offered[i] >= 0 and not accepted
        result[i] = RESULT_SUCCESS if s else (
            RESULT_FAILURE if f else (RESULT_REJECTED if rej else RESULT_NONE))
        if accepted:
            episodes[i] += 1
            if s:
                successes[i] += 1
        elif rej:
            rejections[i] += 1
        activity[i] = (activity[i] << 1) | (1 if accepted else 0)
        activity_by_mode[0, i] = (activity_by_mode[0, i] << 1) | (1 if m == 0 else 0)
        activity_by_mode[1, i] = (activity_by_mode[1, i] << 1) | (1 if m == 1 else 0)
        activity_by_mode[2, i] = (activity_by_mode[2, i] << 1) | (1 if m == 2 else 0)
        s_f = 1.0 if s else 0.0
        e = efficacy[i]
        up = (gain * s_f + vicarious * tie_success[i]) * (1.0 - e)
        down = (loss * (1.0 if f else 0.0) + reject * (1.0 if rej else 0.0)) * e
        x = e + up - down + drift * (efficacy_baseline[i] - e)
        x = x if x > 0.0 else 0.0  # np.clip(x, 0, 1), NaN aside
        efficacy[i] = x if x < 1.0 else 1.0
        t = trust[i]
        y = (t + t_gain * s_f * (1.0 - t) - t_loss * (1.0 if (f or rej) else 0.0) * t
             + t_drift * (trust_baseline[i] - t))
        y = y if y > 0.0 else 0.0
        trust[i] = y if y < 1.0 else 1.0
    for a in range(count):
        success[members[a]] = False


@_jit
def year_counts(mode, activity, activity_by_mode, mask, quintile, hood, n_hoods, offered, result):
    """The integer counts ``observe`` needs, in one pass (all exact, so order is free).

    Returns (ints, by_quintile, by_hood): ints = [active this month in mode 0..2, participants
    of the year, of the year in mode 0..2, regulars (active in >= 2 months of the year),
    offers, rejections, successes, failures]; by_quintile (3, 5) = participants, participants
    in individual mode, in group or collective mode; by_hood = participants.
    """
    ints = np.zeros(12, np.int64)
    by_q = np.zeros((3, 5), np.int64)
    by_hood = np.zeros(n_hoods, np.int64)
    for i in range(mode.shape[0]):
        m = mode[i]
        if m >= 0:
            ints[m] += 1
        if offered[i] >= 0:
            ints[8] += 1
        r = result[i]
        if r == 3:
            ints[9] += 1
        elif r == 1:
            ints[10] += 1
        elif r == 2:
            ints[11] += 1
        recent = activity[i] & mask
        if recent == 0:
            continue
        q = quintile[i]
        ints[3] += 1
        by_q[0, q] += 1
        by_hood[hood[i]] += 1
        if recent & (recent - 1):
            ints[7] += 1
        y0 = activity_by_mode[0, i] & mask
        y1 = activity_by_mode[1, i] & mask
        y2 = activity_by_mode[2, i] & mask
        if y0:
            ints[4] += 1
            by_q[1, q] += 1
        if y1:
            ints[5] += 1
        if y2:
            ints[6] += 1
        if y1 or y2:
            by_q[2, q] += 1
    return ints, by_q, by_hood


@_jit
def year_summary(mode, activity, activity_by_mode, mask, quintile, hood, n_hoods, offered,
                 result, efficacy, efficacy_baseline, ses_rank, rank_mean, work):
    """``year_counts`` then ``year_values`` (which needs the count of participants)."""
    ints, by_q, by_hood = year_counts(mode, activity, activity_by_mode, mask, quintile, hood,
                                      n_hoods, offered, result)
    year_values(activity, mask, ints[3], efficacy, efficacy_baseline, ses_rank, rank_mean, work)
    return ints, by_q, by_hood


@_jit
def year_values(activity, mask, n_year, efficacy, efficacy_baseline, ses_rank, rank_mean, work):
    """Per-citizen values ``observe`` averages, compacted in citizen order.

    work[0, :P], work[1, :P]: self-efficacy and baseline of the P participants of the year;
    work[2, :n-P]: self-efficacy of the others; work[3]: (y - mean y)(R - mean R), y = 1 for a
    participant, R the SES rank, whose mean is the covariance of the concentration index.
    NumPy averages them, so the sums are NumPy's (the same as averaging e[year] etc.).
    """
    n = activity.shape[0]
    y_mean = n_year / n
    on, off = 1.0 - y_mean, 0.0 - y_mean
    p = 0
    q = 0
    for i in range(n):
        if activity[i] & mask:
            work[0, p] = efficacy[i]
            work[1, p] = efficacy_baseline[i]
            p += 1
            work[3, i] = on * (ses_rank[i] - rank_mean)
        else:
            work[2, q] = efficacy[i]
            q += 1
            work[3, i] = off * (ses_rank[i] - rank_mean)


@_jit
def learn_and_update_quality(successes, failures, risk_aversion, culture, admin_scalars,
                             quality, baseline, output_per_resident, quality_scalars):
    """``anchored_learning`` and ``coproduced_output`` in place, operation for operation.

    admin_scalars: learning rate, culture anchor, lowest and highest risk aversion;
    quality_scalars: quality rate, quality gain.
    """
    rate, anchor, lowest, highest = admin_scalars[0], admin_scalars[1], admin_scalars[2], \
        admin_scalars[3]
    for a in range(risk_aversion.shape[0]):
        episodes = successes[a] + failures[a]
        r = risk_aversion[a]
        failure_rate = failures[a] / max(episodes, 1) if episodes > 0 else r
        x = r + rate * (failure_rate - r) + anchor * (culture[a] - r)
        x = x if x > lowest else lowest
        risk_aversion[a] = x if x < highest else highest
    q_rate, q_gain = quality_scalars[0], quality_scalars[1]
    for k in range(quality.shape[0]):
        y = baseline[k] + q_gain * output_per_resident[k]
        target = y if y < 1.0 else 1.0
        q = quality[k] + q_rate * (target - quality[k])
        q = q if q > 0.0 else 0.0
        quality[k] = q if q < 1.0 else 1.0
