"""The report section of scenario discovery: words, the trade-off figure, the box, the rows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim import stats
from coprod_sim.analysis.discovery import (
    MIN_RUNS,
    QUESTIONS,
    Box,
    Question,
    discover,
    lever_words,
    sampled_levers,
    within,
)

SAMPLED_DESIGNS = ("latin_hypercube", "sobol")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tradeoff_figure(box: Box, path: Path) -> Path:
    """Coverage against density along PRIM's peeling, coloured by levers restricted; chosen box ringed."""
    plt = _pyplot()
    t = box.trajectory
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    dims = t["res_dim"].to_numpy(int)
    cmap = plt.get_cmap("viridis", max(dims.max(), 1) + 1)
    sc = ax.scatter(t["coverage"], t["density"], c=dims, cmap=cmap, vmin=-0.5,
                    vmax=dims.max() + 0.5, s=22, zorder=3)
    ax.plot(t["coverage"], t["density"], color="#bbbbbb", lw=0.8, zorder=2)
    ax.scatter([box.coverage], [box.density], s=160, facecolors="none", edgecolors="#c0392b",
               linewidths=2, zorder=4, label=f"box reported (step {box.index}, trivial limits dropped)")
    ax.axhline(0.8, color="#999999", ls=":", lw=0.8)
    ax.axvline(0.5, color="#999999", ls=":", lw=0.8)
    cb = fig.colorbar(sc, ax=ax, ticks=range(dims.max() + 1))
    cb.set_label("levers restricted")
    ax.set_xlabel(f"coverage (share of the {box.unit}s of interest inside the box)")
    ax.set_ylabel(f"density (share of the box's {box.unit}s of interest)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"PRIM peeling: {box.unit}s where {box.question.words(box.threshold)}", fontsize=9,
                 loc="left")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def box_figure(box: Box, path: Path) -> Path | None:
    """The cases over the two most restricted numeric levers, the box drawn on top."""
    x, interest = box.x, box.interest
    # the two levers whose limits cut most; cases outside the other limits are drawn faint
    numeric = sorted((k for k, v in box.limits.items() if not isinstance(v, frozenset)),
                     key=lambda k: within(x, {k: box.limits[k]}).mean())
    if not numeric:
        return None
    plt = _pyplot()
    if len(numeric) == 1:
        others = [c for c in x.columns if c != numeric[0] and pd.api.types.is_numeric_dtype(x[c])]
        if not others:
            return None
        numeric.append(others[0])
    a, b = numeric[:2]
    rest = within(x, {k: v for k, v in box.limits.items() if k not in (a, b)})
    fig, ax = plt.subplots(figsize=(6.0, 4.8))
    for keep, alpha, suffix in ((rest, 0.85, ""), (~rest, 0.18, " (outside the other limits)")):
        if not keep.any():
            continue
        ax.scatter(x.loc[keep & ~interest, a], x.loc[keep & ~interest, b], s=10, c="#9e9e9e",
                   alpha=alpha, label=f"other {box.unit}s{suffix}")
        ax.scatter(x.loc[keep & interest, a], x.loc[keep & interest, b], s=12, c="#c0392b", alpha=alpha,
                   label=f"{box.unit}s where {box.question.words(box.threshold)}{suffix}")
    lo_a, hi_a = box.limits.get(a, (-np.inf, np.inf))
    lo_b, hi_b = box.limits.get(b, (-np.inf, np.inf))
    lo_a, hi_a = max(lo_a, x[a].min()), min(hi_a, x[a].max())
    lo_b, hi_b = max(lo_b, x[b].min()), min(hi_b, x[b].max())
    ax.add_patch(plt.Rectangle((lo_a, lo_b), hi_a - lo_a, hi_b - lo_b, fill=False, ec="black", lw=1.6,
                               label="the box"))
    ax.set_xlabel(f"{lever_words(a)} ({a})")
    ax.set_ylabel(f"{lever_words(b)} ({b})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncol=1, frameon=False)
    ax.set_title(f"The box: {100 * box.density:.0f}% of its {box.unit}s are of interest", fontsize=9,
                 loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def rows(box: Box) -> list[dict[str, Any]]:
    """effects.csv rows: the box's density (with Wilson's interval), coverage and mass."""
    density = stats.proportion(round(box.density * box.n_in_box), box.n_in_box)
    return [{"scope": "discovery", "measure": box.question.column(), "policy": "",
             "question": box.question.name, "threshold": box.threshold,
             "above": box.question.above, "box": box.conditions(), "value": box.density,
             "ci_low": density.low, "ci_high": density.high, "n": box.n_in_box,
             "method": "PRIM density, Wilson interval", "coverage": box.coverage,
             "mass": box.mass, "levers_restricted": len(box.limits), "found": box.found,
             "share_of_interest_overall": box.base_rate}]


def discovery_section(runs: pd.DataFrame, out_dir: str | Path,
                      questions: Sequence[Question] = QUESTIONS,
                      thresholds: dict[str, float] | None = None,
                      levers: Sequence[str] | None = None, link: str = ""
                      ) -> tuple[str, list[Path], list[dict[str, Any]]]:
    """Markdown, figures and effects.csv rows of scenario discovery ("" if the design is not sampled).

    Figures are written into ``out_dir``; the markdown links them as ``link + file name``.
    """
    out_dir = Path(out_dir)
    done = runs[runs["status"] == "done"] if "status" in runs else runs
    levers = list(levers) if levers is not None else sampled_levers(done)
    if not levers:
        return "", [], []
    lines = ["## Where the bias is high or participation low (scenario discovery)", "",
             "PRIM (the Patient Rule Induction Method, Friedman & Fisher 1999, as implemented by"
             " the EMA Workbench, Kwakkel 2017) searches the sampled levers for the ranges where"
             " the cases of interest concentrate (a case is a design point, averaged over its"
             " replications, or a run when there is one replication). Each box below is the last"
             " of PRIM's peeling steps with density at least 80% and coverage at least 50% (Bryant"
             " & Lempert 2010), or else the one with the largest weighted relative accuracy (Lavrač,"
             " Flach & Zupan 1999); limits that change its density by less than 2 points are"
             " dropped.", ""]
    if len(done) < MIN_RUNS:
        lines.append(f"Too few finished runs ({len(done)}, at least {MIN_RUNS} needed): no boxes.")
        return "\n".join(lines) + "\n", [], []
    figures: list[Path] = []
    table_rows: list[dict[str, Any]] = []
    for q in questions:
        if q.column() not in done:
            continue
        box = discover(done, q, (thresholds or {}).get(q.name), levers)
        if box is None:
            lines += [f"- No box for runs where {q.words(float('nan'))}: no run (or every run) is of"
                      " interest.", ""]
            continue
        lines += [f"### Where {q.words(box.threshold)}", "", box.sentence(), ""]
        fig = tradeoff_figure(box, out_dir / f"discovery_{q.name}_tradeoff.png")
        figures.append(fig)
        lines += [f"![coverage and density along PRIM's peeling]({link}{fig.name})", ""]
        table_rows += rows(box)
        if not box.found:
            continue
        scatter = box_figure(box, out_dir / f"discovery_{q.name}_box.png")
        if scatter is not None:
            figures.append(scatter)
            lines += [f"![the box over its levers]({link}{scatter.name})", ""]
    return "\n".join(lines) + "\n", figures, table_rows


def method_rows(finished: int) -> list[dict[str, Any]]:
    """The method's settings the section states, as effects.csv rows (every number of the report)."""
    import inspect

    from coprod_sim.analysis import discovery as d

    box = inspect.signature(d.find_box).parameters
    tol = inspect.signature(d.simplify).parameters["tolerance"].default
    return [{"scope": "setting", "measure": f"discovery {k}", "value": float(v)} for k, v in (
        ("minimum density", box["min_density"].default), ("minimum coverage", box["min_coverage"].default),
        ("density change kept", tol), ("minimum runs", d.MIN_RUNS), ("finished runs", finished))]


def add_to_report(sweep, figures_dir: Path, text: str, table: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The report's markdown and effects table with the discovery section added.

    ``sweep`` is the report's loaded sweep (its ``kind``, ``levers`` and finished ``runs``); only
    Latin hypercube and Sobol designs get the section.
    """
    if sweep.kind not in SAMPLED_DESIGNS or not sweep.levers:
        return text, table
    section, _, new_rows = discovery_section(sweep.runs, figures_dir, levers=sweep.levers, link="figures/")
    if not section:
        return text, table
    new_rows = [*new_rows, *method_rows(len(sweep.runs))]
    return text.rstrip("\n") + "\n\n" + section, pd.concat([table, pd.DataFrame(new_rows)], ignore_index=True)
