"""The ranges of the sensitivity analysis of record, read from the parameter tree.

``scenarios/sensitivity_full.toml`` is generated here, so that its ranges follow the
defaults: behavioural parameters vary from half to one and a half times their default
(logit intercepts, whose scale has no zero to multiply from: the default plus or minus one),
inside the tree's bounds; policy levers vary over the span a policy could move them
(:data:`LEVER_SPANS`, a statement about policies, not about the defaults). A parameter added
to the sampled groups must be sampled or listed in :data:`NOT_SAMPLED` with a reason, or
:func:`ranges` raises; ``tests/test_validation.py`` checks that the file is what this module
writes and that every range holds the tree's default.

Regenerate after any change of a default::

    python -m coprod_sim.validation.sensitivity        # rewrites scenarios/sensitivity_full.toml
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from coprod_sim.params import TREE, Param

GROUPS = ("policy", "citizens", "administration", "levels")
"""Groups whose numeric parameters vary. The town (population, network) stays fixed: it sets
the baseline bias the levers act on."""

LOGIT_SHIFT = 1.0
"""How far a logit intercept (``base_*``, ``*_base``) moves either way, in log-odds."""

LEVER_SPANS: dict[str, tuple[float, float]] = {
    "policy.outreach_rate": (0.0, 0.1),
    "policy.effort_individual": (0.05, 0.4),
    "policy.effort_group": (0.25, 0.7),
    "policy.effort_collective": (0.5, 1.0),
    "policy.capacity_scale": (0.5, 2.0),
    "policy.resource_transfer": (0.0, 0.5),
    "policy.transfer_share": (0.05, 0.5),
    "policy.information_campaign": (0.0, 1.0),
    "policy.community_organisers": (0.0, 50.0),
    "administration.risk_aversion": (0.1, 0.9),
    "administration.risk_aversion_spread": (0.0, 0.4),
    "administration.staff_incentives": (0.0, 0.9),
    "administration.risk_aversion_min": (0.0, 0.1),
    "administration.risk_aversion_max": (0.9, 1.0),
}
"""Levers and administrations' settings a policy (or a different administration) could
move, over the span it could move them; the bounds of learned risk aversion over a plausible
span rather than around their technical defaults."""

NOT_SAMPLED: dict[str, str] = {
    "policy.outreach": "categorical: compared side by side in scenarios/outreach.toml",
    "policy.transfer_target": "categorical: compared in scenarios/resource_transfer.toml",
    "policy.seat_selection": "categorical: compared in scenarios/sortition.toml",
    "policy.codesign_openness": "a lever that defaults to 0 without a stated range (codesign_risk.toml)",
    "policy.initiative_support": "a lever that defaults to 0 without a stated range",
    "policy.codesign_seats": "a lever that defaults to 0 without a stated range (scenarios/sortition.toml)",
    "policy.digital_share": "a lever that defaults to 0 without a stated range (scenarios/digital.toml)",
    "policy.seat_redraws": "acts only through policy.codesign_seats, not sampled",
    "levels.seat_acceptance_base": "acts only through policy.codesign_seats, not sampled",
    "levels.openness_weight": "acts only through policy.codesign_openness, not sampled",
    "levels.support_weight": "acts only through policy.initiative_support, not sampled",
}
"""Numeric or categorical keys of the sampled groups left at their default, and why."""

HEADER = """\
# Global sensitivity analysis of record: which parameters move participation and the selection
# bias, alone (first-order Sobol' index) and with their interactions (total index)?
#   coprod sweep scenarios/sensitivity_full.toml --out out/sensitivity_full
#   coprod report out/sensitivity_full          # Sobol' indices with intervals, per outcome
# GENERATED from the parameter tree by `python -m coprod_sim.validation.sensitivity`: edit
# that module, not this file (tests/test_validation.py checks that they agree).
# Every numeric policy lever and behavioural parameter varies at once (groups
# {groups}): policy levers over the span a policy could
# move them, behavioural parameters from half to one and a half times their default (logit
# intercepts: plus or minus {shift:g}), inside the tree's bounds. The town (population,
# network) is fixed. Not sampled:
{not_sampled}
name = "sensitivity_full"
description = \"\"\"\\
Which policy levers and behavioural parameters matter most for participation and for the \\
selection bias, alone and with their interactions? All numeric levers and behavioural \\
parameters vary at once (Sobol' design, SALib).\"\"\"
steps = 72
replications = 1
seed = 7

[parameters]
population.n_citizens = 2000

[sweep]
design = "sobol"
samples = {samples}
seed = 7
"""

SAMPLES = 128
"""Base sample N of the Sobol' design: N x (factors + 2) runs."""

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "sensitivity_full.toml"


def is_intercept(name: str, p: Param) -> bool:
    """A logit intercept: its zero is arbitrary, so it moves by :data:`LOGIT_SHIFT`, not by a factor."""
    return p.unit == "logit" and (name.startswith("base_") or name.endswith("_base"))


def behavioural_range(name: str, p: Param) -> tuple[float, float]:
    """Half to one and a half times the default (an intercept: +- 1 logit), inside the bounds;
    integers widened to whole numbers."""
    d = float(p.default)
    if is_intercept(name, p):
        low, high = d - LOGIT_SHIFT, d + LOGIT_SHIFT
    else:
        low, high = sorted((0.5 * d, 1.5 * d))
    if p.low is not None:
        low = max(low, p.low)
    if p.high is not None:
        high = min(high, p.high)
    if p.kind is int:
        low, high = math.floor(low), math.ceil(high)
    return low, high


def ranges() -> dict[str, tuple[float, float]]:
    """Every sampled key and its range, in tree order. Raises ValueError for a parameter of
    the sampled groups that is neither sampled nor listed in :data:`NOT_SAMPLED`, or whose
    range would be empty (a behavioural default of 0 needs a span of its own)."""
    out: dict[str, tuple[float, float]] = {}
    for group in GROUPS:
        for name, p in TREE[group].items():
            key = f"{group}.{name}"
            if key in NOT_SAMPLED:
                continue
            if p.kind not in (int, float):
                raise ValueError(f"{key}: not numeric; list it in NOT_SAMPLED with a reason")
            low, high = LEVER_SPANS[key] if key in LEVER_SPANS else behavioural_range(name, p)
            if not low < high:
                raise ValueError(
                    f"{key}: empty range [{low}, {high}] around the default {p.default};"
                    " give it a span in LEVER_SPANS or list it in NOT_SAMPLED"
                )
            out[key] = (low, high)
    return out


def _number(x: float) -> str:
    return f"{x:.6g}"


def render(samples: int = SAMPLES) -> str:
    """The text of ``scenarios/sensitivity_full.toml``."""
    not_sampled = "\n".join(f"#   {key}: {why}" for key, why in NOT_SAMPLED.items())
    text = HEADER.format(
        groups=", ".join(GROUPS), shift=LOGIT_SHIFT, not_sampled=not_sampled, samples=samples
    )
    lines = [f"{key} = {{ low = {_number(lo)}, high = {_number(hi)} }}" for key, (lo, hi) in ranges().items()]
    return text + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the scenario file (``--check``: exit 1 if it differs from what would be written)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        same = SCENARIO.read_text(encoding="utf-8") == text
        print(f"{SCENARIO.name}: {'up to date' if same else 'stale: regenerate it'}")
        return 0 if same else 1
    SCENARIO.write_text(text, encoding="utf-8")
    print(f"wrote {SCENARIO} ({len(ranges())} factors, {SAMPLES * (len(ranges()) + 2)} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
