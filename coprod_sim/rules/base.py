"""The rule interface: what every stage's rule receives, returns and must respect.

A rule is a function ``rule(state, params) -> output``:

- ``state`` is a :class:`State`: the citizens' arrays (length n), the neighbourhoods' (K),
  the administrations' (A), the social network as a symmetric 0/1 sparse adjacency
  (``scipy.sparse.csr_array``, n x n), derived shares of ties, the month ``step`` and a
  random generator ``rng``. Every array is a **read-only view**: a rule that writes into
  one raises ``ValueError: assignment destination is read-only``. Copy first
  (``x = state.citizens.self_efficacy.copy()``) if you need scratch space.
- ``params`` is the run's :class:`~coprod_sim.params.Parameters`, read by dotted key
  (``params["citizens.peer_weight"]``) or by group (``params.citizens.peer_weight``).
- The **output** is a new NumPy array (or a named tuple of arrays) of the stage's shape,
  with a real number dtype (float, int or bool), finite, and within the stage's bounds.

Invariants every rule keeps (``coprod rules check`` and the kernel check them):

1. **Shape and dtype** as in the table below; never NaN or infinite.
2. **Bounds**: probabilities and scores in [0, 1]; participation rows sum to at most 1.
3. **No mutation** of anything it receives (state arrays, the network, the parameters).
4. **Determinism given the generator**: the same state, parameters and ``state.rng``
   (same seed) give bit-identical output. The kernel owns the randomness of choices (who
   is invited, who offers, which offers pass, which episodes succeed), using common random
   numbers so that policies are compared on the same draws; a rule that needs randomness
   of its own draws it from ``state.rng``, never from ``np.random`` or ``random``.
5. **Vectorised and side-effect free**: no global state, no I/O; it sees all citizens at
   once and returns all of them.

Stages, in the order of a month (n citizens, K neighbourhoods, A administrations, M = 3
modes: 0 individual, 1 group, 2 collective):

================== ========================================= ==================================
stage              returns                                   invariants
================== ========================================= ==================================
outreach           invitation probability, float (n,)        in [0, 1]
participation      offer probability per mode, float (n, M)  in [0, 1], each row sums to <= 1
screening          Screening(accept (n,), priority (n,))     accept in [0, 1]; priority finite
outcome            success probability, float (n,)           in [0, 1]
efficacy_feedback  Feedback(self_efficacy (n,), trust (n,))  in [0, 1]
admin_learning     new risk aversion, float (A,)             in [0, 1]
service_quality    new local service quality, float (K,)     in [0, 1]
================== ========================================= ==================================

What is current when each stage runs (everything else holds last month's value):

- **outreach**: ``peer_active_share`` (share of ties active *last* month); ``invited``,
  ``offered``, ``mode`` and ``result`` are still last month's.
- **participation**: ``invited`` is this month's. The kernel turns row i into one choice
  with a single uniform draw: mode m with probability ``p[i, m]``, none with
  ``1 - sum(p[i])``.
- **screening**: ``offered`` is this month's mode offered (``NO_MODE`` = -1 if none).
  ``accept`` is the chance an offer passes; among passed offers the highest ``priority``
  get the administration's limited places per mode (ties go to the lower index).
- **outcome**: ``mode`` is the mode of this month's accepted episode (-1 if none);
  ``coparticipant_share`` the share of ties active this month in group or collective mode.
- **efficacy_feedback**: ``result`` is this month's (0 nothing, 1 success, 2 failure,
  3 rejected), ``episodes``/``successes``/``rejections`` include it,
  ``tie_success_share`` the share of ties who succeeded this month.
- **admin_learning**: ``administrations.successes``/``failures`` count this month's
  episodes; citizens' self-efficacy and trust are already updated.
- **service_quality**: ``output_per_resident`` (K,) is this month's coproduced output.

Entries for citizens a stage does not concern (e.g. ``accept`` of a citizen who made no
offer) are ignored by the kernel but must still respect the bounds. ``docs/extending.md``
walks through writing, checking and selecting a rule.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from coprod_sim.names import N_MODES, STAGES
from coprod_sim.params import ParameterError

# What a rule receives; rules import it from here, with the rest of their interface.
from coprod_sim.town.state import Administrations as Administrations  # re-exported for rules
from coprod_sim.town.state import State as State  # re-exported for rules


class Screening(NamedTuple):
    """Output of the screening stage."""

    accept: np.ndarray  # probability that an offer passes screening
    priority: np.ndarray  # order in which passed offers get the limited capacity (high first)


class Feedback(NamedTuple):
    """Output of the efficacy-feedback stage."""

    self_efficacy: np.ndarray
    trust: np.ndarray


OUTPUT_FIELDS: dict[str, tuple[str, ...] | None] = {
    "screening": Screening._fields,
    "efficacy_feedback": Feedback._fields,
}
"""Stages whose output is a named tuple, with its fields; the others return one array."""


class RuleError(ParameterError):
    """A rule that cannot be found, loaded or trusted. The message names stage and rule.

    A :class:`~coprod_sim.params.ParameterError` (on key ``rules.<stage>``), so the command
    line reports it in one paragraph with exit code 2.
    """

    def __init__(self, stage: str, name: str, message: str, *, prefix: str = ":"):
        where = "" if stage == "?" else f" for stage {stage!r}"  # "?": not known yet
        super().__init__(f"rules.{stage}", f"Rule {name!r}{where}{prefix} {message}")
        self.stage = stage
        self.name = name
        self.rule = name
        self.problem = message


class RuleOutputError(RuleError):
    """A rule raised an exception or returned something that breaks its stage's contract."""

    def __init__(self, stage: str, rule: str, message: str):
        super().__init__(stage, rule, message, prefix=" broke its contract:")


def output_shapes(stage: str, n: int, k: int, a: int) -> tuple[int, ...]:
    """The shape of each output array of ``stage`` for n citizens, k neighbourhoods, a admins."""
    if stage == "participation":
        return (n, N_MODES)
    if stage == "admin_learning":
        return (a,)
    if stage == "service_quality":
        return (k,)
    if stage in STAGES:
        return (n,)
    raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")


def expected_shape(stage: str, state: State) -> tuple[int, ...]:
    """The shape of each output array of ``stage`` for ``state``."""
    return output_shapes(stage, state.n, len(state.neighbourhoods), len(state.administrations))


def check_output(stage: str, name: str, out: Any, shape: tuple[int, ...]) -> None:
    """Raise RuleOutputError unless ``out`` has the stage's structure, shape, dtype and bounds."""
    names = OUTPUT_FIELDS.get(stage)
    if names is not None:
        kind = {"screening": "Screening", "efficacy_feedback": "Feedback"}[stage]
        if not isinstance(out, tuple) or len(out) != len(names):
            raise RuleOutputError(stage, name, f"it must return {kind}({', '.join(names)}),"
                                  f" got {type(out).__name__}.")
        for what, a in zip(names, out, strict=True):
            _check_array(stage, name, what, a, shape, bounded=what != "priority")
        return
    _check_array(stage, name, "output", out, shape, bounded=True)
    if stage == "participation":
        total = out.sum(axis=1)
        if np.any(total > 1.0 + 1e-9):
            i = int(np.argmax(total))
            raise RuleOutputError(stage, name, "the probabilities of a citizen's modes sum to more"
                                  f" than 1 (citizen {i}: {total[i]:g}); the rest, 1 - sum, is the"
                                  " chance of staying out.")


def _check_array(stage: str, name: str, what: str, a: Any, shape: tuple[int, ...],
                 bounded: bool) -> None:
    if not isinstance(a, np.ndarray):
        raise RuleOutputError(stage, name, f"{what} must be a NumPy array, got {type(a).__name__}.")
    if a.shape != shape:
        raise RuleOutputError(stage, name, f"{what} has shape {a.shape}, expected {shape}.")
    real = a.dtype == bool or np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)
    if not real:
        raise RuleOutputError(stage, name, f"{what} has dtype {a.dtype}, expected a real number"
                              " type (float, int or bool).")
    if a.size == 0:
        return
    lo, hi = a.min(), a.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuleOutputError(stage, name, f"{what} contains NaN or infinite values.")
    if bounded and (lo < 0.0 or hi > 1.0):
        raise RuleOutputError(stage, name, f"{what} has values in [{lo:g}, {hi:g}], outside [0, 1].")
