"""The tables, plain words and waterfall figures of ``coprod explain``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from coprod_sim import stats
from coprod_sim.analysis.explain import Decomposition, ExplainResult
from coprod_sim.names import OUTCOMES


def label(measure: str) -> str:
    return OUTCOMES[measure].label


def neutral(measure: str) -> float:
    """The value of a measure when there is no bias."""
    value = OUTCOMES[measure].neutral
    return 0.0 if value is None else value


def contributions_table(d: Decomposition) -> pd.DataFrame:
    """One row per channel (largest first), then the unexplained rest, the full model, the total."""
    keep = d.usable
    total = stats.t_interval(d.full[keep] - d.none[keep])
    rows = []
    for i, c in enumerate(d.channels):
        e = stats.t_interval(d.phi[i, keep])
        share = e.mean / total.mean if total.distinguishable and total.mean else math.nan
        rows.append({"channel": c.name, "label": c.label, "contribution": e.mean, "low": e.low,
                     "high": e.high, "share": share, "distinguishable": e.distinguishable,
                     "switched_off": c.doc})
    table = pd.DataFrame(rows)
    table = table.iloc[np.argsort(-table["contribution"].abs().to_numpy(), kind="stable")]
    ends = []
    for name, label, values in (("none", "all channels off (not explained by them)", d.none[keep]),
                                ("full", "full model (every channel on)", d.full[keep]),
                                ("total", "difference explained (full minus all off)",
                                 d.full[keep] - d.none[keep])):
        e = stats.t_interval(values)
        ends.append({"channel": name, "label": label, "contribution": e.mean, "low": e.low,
                     "high": e.high, "share": 1.0 if name == "total" else math.nan,
                     "distinguishable": e.distinguishable, "switched_off": ""})
    out = pd.concat([table, pd.DataFrame(ends)], ignore_index=True)
    out.insert(0, "measure", d.measure)
    out["replications"] = int(keep.sum())
    out.attrs["replications"] = len(keep)
    return out


def _num(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3f}"


def _ci(row) -> str:
    return f"{_num(row.contribution)} [{_num(row.low)}, {_num(row.high)}]"


def plain_words(table: pd.DataFrame, scenario: str) -> str:
    """The decomposition of one measure as a paragraph."""
    by = table.set_index("channel")
    measure = label(table["measure"].iloc[0])
    total, none, full = by.loc["total"], by.loc["none"], by.loc["full"]
    text = (f"In {scenario}, the {measure} is {_ci(full)} with every channel on and {_ci(none)} with"
            f" all of them switched off, a difference of {_ci(total)}.")
    used = int(table["replications"].iloc[0])
    if used < int(table.attrs.get("replications", used)):
        text += (f" (Over the {used} replications where the measure is defined in every"
                 f" counterfactual, of {table.attrs['replications']}.)")
    if not total.distinguishable:
        return text + (" That difference is not distinguishable from zero over these replications,"
                       " so the channels' shares are not given.")
    parts, unclear = [], []
    for row in table[~table["channel"].isin(["none", "full", "total"])].itertuples():
        if not row.distinguishable:
            unclear.append(row.label)
            continue
        what = (f"{100 * row.share:.0f}% of it" if row.contribution > 0
                else f"offsetting {100 * abs(row.share):.0f}% of it")
        parts.append(f"{row.label}: {row.contribution:+.3f} [{_num(row.low)}, {_num(row.high)}],"
                     f" {what}")
    if parts:
        text += " Contributions (Shapley values): " + "; ".join(parts) + "."
    if unclear:
        text += (" The contribution of " + ", ".join(unclear) + " is not distinguishable from zero.")
    return text


def waterfall(table: pd.DataFrame, path: Path, title: str) -> Path:
    """From all channels off to the full model, one floating bar per channel with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure = table["measure"].iloc[0]
    by = table.set_index("channel")
    body = table[~table["channel"].isin(["none", "full", "total"])]
    labels = ["all channels off", *body["label"], "full model"]
    fig, ax = plt.subplots(figsize=(8.0, 0.55 * len(labels) + 1.6))
    ref = neutral(measure)
    y = np.arange(len(labels))[::-1]
    grey = "#777777"
    start = by.loc["none"]
    ax.barh(y[0], start.contribution - ref, left=ref, color=grey, height=0.6)
    ax.errorbar(start.contribution, y[0], xerr=[[start.contribution - start.low],
                [start.high - start.contribution]], fmt="none", ecolor="black", capsize=3)
    level = start.contribution
    for j, row in enumerate(body.itertuples(), start=1):
        colour = "#c0392b" if row.contribution > 0 else "#2471a3"
        ax.barh(y[j], row.contribution, left=level, color=colour, height=0.6,
                alpha=1.0 if row.distinguishable else 0.45)
        end = level + row.contribution
        ax.errorbar(end, y[j], xerr=[[row.contribution - row.low], [row.high - row.contribution]],
                    fmt="none", ecolor="black", capsize=3)
        ax.plot([level, level], [y[j - 1] - 0.3, y[j] + 0.3], color="#bbbbbb", lw=0.8, zorder=0)
        right = max(level, end, level + row.high) if math.isfinite(row.high) else max(level, end)
        ax.annotate(f"{row.contribution:+.3f}", (right, y[j]), xytext=(5, 0),
                    textcoords="offset points", va="center", fontsize=8)
        level = end
    full = by.loc["full"]
    ax.barh(y[-1], full.contribution - ref, left=ref, color="#333333", height=0.6)
    ax.errorbar(full.contribution, y[-1], xerr=[[full.contribution - full.low],
                [full.high - full.contribution]], fmt="none", ecolor="black", capsize=3)
    for yy, row in ((y[0], start), (y[-1], full)):
        ax.annotate(f"{row.contribution:.3f}", (max(ref, row.high), yy), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.axvline(ref, color="black", lw=0.8)
    ax.set_yticks(y, labels)
    ax.set_xlabel(f"{label(measure)}\n({OUTCOMES[measure].reads})")
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    fig.text(0.01, 0.01, "red: raises the bias; blue: lowers it; pale: not distinguishable from 0;"
            " whiskers: 95% interval over replications", fontsize=7,
            va="bottom", color="#555555")
    ax.margins(x=0.12)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def write_report(result: ExplainResult) -> dict[str, Path]:
    """explain.md, contributions.csv, explain.json and one waterfall figure per measure."""
    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    tables = {m: contributions_table(d) for m, d in result.decompositions.items()}
    files: dict[str, Path] = {}
    combined = pd.concat(tables.values(), ignore_index=True)
    files["table"] = out / "contributions.csv"
    combined.to_csv(files["table"], index=False)
    first = next(iter(result.decompositions.values()))
    method = ("exact Shapley values over all"
              f" {2 ** len(result.channels)} subsets" if first.orders is None else
              f"Shapley values estimated from {len(first.orders)} sampled orders (antithetic pairs)")
    lines = [f"# Where the selection bias of {result.scenario} comes from", "",
             *([f"Scenario: {result.question}", ""] if result.question else []),
             f"Policy explained: {result.policy}. Channels: {len(result.channels)}; method: {method},"
             f" one per replication on common random numbers, averaged over {first.phi.shape[1]}"
             " replications with 95% t intervals. Contributions add up exactly to the difference"
             " between the full model and the model with every channel switched off.", ""]
    if result.already_off:
        lines += [f"Already off in this scenario (contribution 0 by construction):"
                  f" {', '.join(result.already_off)}.", ""]
    lines += ["## What switching a channel off means", "", "| channel | switched off: |", "|---|---|"]
    lines += [f"| {c.label} | {c.doc} |" for c in result.channels]
    for m, table in tables.items():
        fig = waterfall(table, out / f"waterfall_{m}.png", f"{result.scenario}: {label(m)}")
        files[f"waterfall_{m}"] = fig
        lines += ["", f"## {label(m)[0].upper()}{label(m)[1:]}", "", plain_words(table, result.scenario), "",
                  f"![waterfall of the {label(m)}]({fig.name})", "",
                  "| | contribution | 95% interval | share of the difference |", "|---|---:|---:|---:|"]
        for row in table.itertuples():
            share = "" if not math.isfinite(row.share) else f"{100 * row.share:.0f}%"
            lines.append(f"| {row.label} | {_num(row.contribution)} | [{_num(row.low)}, {_num(row.high)}]"
                         f" | {share} |")
    files["report"] = out / "explain.md"
    files["report"].write_text("\n".join(lines) + "\n")
    files["json"] = out / "explain.json"
    files["json"].write_text(json.dumps({
        "scenario": result.scenario, "policy": result.policy,
        "channels": [{"name": c.name, "label": c.label, "off": dict(c.off), "doc": c.doc}
                     for c in result.channels],
        "orders": None if first.orders is None else first.orders.tolist()}, indent=1) + "\n")
    result.files = files
    return files
