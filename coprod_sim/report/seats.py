"""The report's co-design seats: who holds them, who declines, and what each way of filling
them does to participation and to the gap, each seat policy paired against the first one (in
the scenario's order, the baseline first). Every number comes from a row of effects.csv.
"""

from __future__ import annotations

from typing import Any

from coprod_sim.names import LEVELS, MODES, QUINTILE_LABELS
from coprod_sim.report import effects
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import (
    CONCENTRATION,
    LEVEL_CONCENTRATION,
    MODE_LEVEL_CONCENTRATION,
    PARTICIPATION_M,
    SEAT_ACCEPTANCE,
    SEAT_SHARES,
    SEATS_FILLED,
)
from coprod_sim.report.said import Said, cell, diff_text, level_text, md_table

SEAT_MEASURES = (
    SEATS_FILLED,
    PARTICIPATION_M,
    CONCENTRATION,
    LEVEL_CONCENTRATION[1],
    MODE_LEVEL_CONCENTRATION[MODES.index("group") * len(LEVELS) + 1],
)
"""Besides who sits: what each seat policy does to participation and to the gap, overall, among
designers and in group mode at the designer level (where the seats are); first, how many seats
were filled at all (declined seats stay empty)."""


def seat_policies(sw: Sweep) -> list[str]:
    """Policies (scenario order, baseline first) whose runs held co-design seats."""
    col = effects.column(SEAT_SHARES[0])
    if col not in sw.runs:
        return []
    held = sw.runs.groupby("policy")[col].apply(lambda v: v.notna().any())
    return [p for p in sw.policies if held.get(p, False)]


def seat_rows(sw: Sweep) -> list[dict[str, Any]]:
    """Each seat policy against the first one: who holds the seats, who accepts, paired."""
    pols = seat_policies(sw)
    if len(pols) < 2:
        return []
    ref = sw.runs[sw.runs["policy"] == pols[0]]
    rows = []
    by_rep = sw.replications >= 2
    for m in (*SEAT_MEASURES, *SEAT_SHARES, *SEAT_ACCEPTANCE):
        for pol in pols[1:]:
            d = sw.runs[sw.runs["policy"] == pol]
            rows.append(
                effects.row(
                    "seats",
                    m,
                    pol,
                    effects.level(d, m, by_rep),
                    effects.difference(d, ref, m, by_rep),
                    compared_with=pols[0],
                )
            )
    return rows


def seat_lines(sw: Sweep, s: Said) -> list[str]:
    pols = seat_policies(sw)
    if not pols:
        return []
    lines = [
        "## Co-design seats: who sits, who declines",
        "",
        "Share of the past year's co-design seats held by each fifth of the citizens by"
        " socio-economic status (20% each would be a cross section), the share of those asked"
        " who accepted a seat (the rest declined; a share of the year's sums, so redrawing a"
        " declined seat does not change it), and how many seats were filled. Each policy with"
        " seats after the first is compared with"
        f" **{pols[0]}**, paired on the same random draws.",
        "",
    ]
    first, last = QUINTILE_LABELS[0], QUINTILE_LABELS[-1]
    for pol in pols:
        q1, q5 = SEAT_SHARES[0], SEAT_SHARES[-1]
        a1, a5 = SEAT_ACCEPTANCE[0], SEAT_ACCEPTANCE[-1]
        text = (
            f"- **{pol}**: the poorest fifth holds {level_text(q1, s.get('policy', q1, pol))} of the"
            f" seats, the richest {level_text(q5, s.get('policy', q5, pol))}; of those asked,"
            f" {level_text(a1, s.get('policy', a1, pol))} of the poorest fifth accepted and"
            f" {level_text(a5, s.get('policy', a5, pol))} of the richest"
            + (f"; {level_text(SEATS_FILLED, s.get('policy', SEATS_FILLED, pol))} of the seats were"
               " filled." if s.recorded(SEATS_FILLED) else ".")
        )
        if pol != pols[0]:
            text += (
                f" Against {pols[0]}: seats of {first} {diff_text(q1, s.get('seats', q1, pol))},"
                f" of {last} {diff_text(q5, s.get('seats', q5, pol))}; acceptance in {first}"
                f" {diff_text(a1, s.get('seats', a1, pol))}, in {last}"
                f" {diff_text(a5, s.get('seats', a5, pol))}; "
                + "; ".join(f"{m.label} {diff_text(m, s.get('seats', m, pol))}" for m in SEAT_MEASURES
                            if s.recorded(m))
                + "."
            )
        lines.append(text)
    lines += [
        "",
        md_table(
            ["policy", *QUINTILE_LABELS],
            [[p, *[cell(m, s.get("policy", m, p)) for m in SEAT_SHARES]] for p in pols],
        ),
        "",
        "Accepted, of those asked:",
        "",
        md_table(
            ["policy", *QUINTILE_LABELS],
            [[p, *[cell(m, s.get("policy", m, p)) for m in SEAT_ACCEPTANCE]] for p in pols],
        ),
        "",
        "![Co-design seats](figures/seats.png)",
        "",
    ]
    return lines
