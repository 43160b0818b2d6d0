"""How the cost of a run grows with citizens, ties and months: data and the log-log figure.

    .venv/bin/python benchmarks/scaling.py            # measure (about 10 minutes), then draw
    .venv/bin/python benchmarks/scaling.py --plot-only  # redraw from the saved measurements

Writes benchmarks/results/scaling.json and docs/performance.png. Every point is a fresh
process (benchmarks/measure.py), the median of ``--repeats`` measurements.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import log, machine, measure  # noqa: E402

RESULTS = HERE / "results" / "scaling.json"
FIGURE = HERE.parent / "docs" / "performance.png"

CITIZENS = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 2_000_000]
NUMPY_CITIZENS = [1_000, 10_000, 100_000, 1_000_000]
DEGREES = [2, 4, 8, 16, 32, 60]
STEPS = [10, 30, 100, 300, 1000]


def point(repeats: int, **task: Any) -> dict[str, Any]:
    runs = [measure({"task": "kernel", **task}) for _ in range(repeats)]
    keys = ("step_ms", "run_s", "build_s", "build_population_s", "build_network_s",
            "peak_memory_mb", "citizen_steps_per_s")
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["stage_ms_per_step"] = {k: statistics.median(r["stage_ms_per_step"][k] for r in runs)
                                for k in runs[0]["stage_ms_per_step"]}
    out.update(citizens=task["citizens"], steps=task["steps"], ties=runs[0]["ties"],
               accelerated=runs[0]["accelerated"], load_average=[r["load_average"] for r in runs])
    return out


def collect(repeats: int) -> dict[str, Any]:
    data: dict[str, Any] = {"machine": machine(), "repeats": repeats}
    data["citizens"] = []
    for n in CITIZENS:
        log(f"scaling: {n:,} citizens")
        data["citizens"].append(point(repeats, citizens=n, steps=20))
    data["citizens_numpy"] = []
    for n in NUMPY_CITIZENS:
        log(f"scaling: {n:,} citizens, NumPy path")
        data["citizens_numpy"].append(point(repeats, citizens=n, steps=10, accelerate=False))
    data["ties"] = []
    for d in DEGREES:
        log(f"scaling: mean degree {d} at 100,000 citizens")
        data["ties"].append(point(repeats, citizens=100_000, steps=20,
                                  overrides={"network.mean_degree": float(d)}) | {"mean_degree": d})
    data["steps"] = []
    for s in STEPS:
        log(f"scaling: {s} months at 100,000 citizens")
        data["steps"].append(point(repeats, citizens=100_000, steps=s))
    return data


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y on log x: 1 is linear growth."""
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


STAGE_LABELS = {  # what each stage of the compiled month holds
    "outreach": "peer shares, outreach",
    "participation": "decision draws, utilities, exp",
    "screening": "2 draws, choice, screening,\ncapacity, success log-odds",
    "outcome": "outcome draws, expit",
    "feedback": "bookkeeping, vicarious\nshares, feedback",
    "administrations_quality": "administrations, quality",
    "recording": "recording outcomes, Mesa step",
}


def _reference(ax, xs: list[float], ys: list[float], label: str = "slope 1 (linear)") -> None:
    """A grey slope-1 line through the middle point, for the eye."""
    mid = len(xs) // 2
    ax.loglog([xs[0], xs[-1]], [ys[mid] * xs[0] / xs[mid], ys[mid] * xs[-1] / xs[mid]],
              color="0.6", ls="--", lw=1, label=label)


def plot(data: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    (a, b, c), (d, e, f) = axes
    green, purple = "#1b7837", "#762a83"

    cit = data["citizens"]
    xs = [p["citizens"] for p in cit]
    ys = [p["step_ms"] / 1e3 for p in cit]
    a.loglog(xs, ys, "o-", color=green, label=f"compiled path (slope {slope(xs[2:], ys[2:]):.2f})")
    num = data.get("citizens_numpy", [])
    if num:
        xn = [p["citizens"] for p in num]
        yn = [p["step_ms"] / 1e3 for p in num]
        a.loglog(xn, yn, "s--", color=purple, label=f"NumPy path (slope {slope(xn[1:], yn[1:]):.2f})")
    _reference(a, xs, ys)
    a.axhline(0.2, color="#b2182b", lw=0.8, ls=":")
    a.text(xs[0], 0.23, "0.2 s: 100 months of 1,000,000 in 20 s", fontsize=8, color="#b2182b")
    a.set(xlabel="citizens", ylabel="seconds per month (recording included)",
          title="Time per month: linear in citizens")
    a.legend(fontsize=8, loc="lower right")

    b.loglog(xs, [p["build_s"] for p in cit], "^-", color="#e08214",
             label=f"slope {slope(xs[2:], [p['build_s'] for p in cit][2:]):.2f}")
    _reference(b, xs, [p["build_s"] for p in cit])
    b.axhline(30, color="#b2182b", lw=0.8, ls=":")
    b.text(xs[0], 32, "30 s target", fontsize=8, color="#b2182b")
    b.set(xlabel="citizens", ylabel="seconds", title="Building the town (population + network)")
    b.legend(fontsize=8, loc="lower right")

    mem = [p["peak_memory_mb"] for p in cit]
    c.semilogx(xs, mem, "o-", color="#2166ac", label="peak resident memory of the process")
    c.axhline(1536, color="#b2182b", lw=0.8, ls=":")
    c.text(xs[0], 1560, "1.5 GB target", fontsize=8, color="#b2182b")
    c.axhline(mem[0], color="0.6", lw=0.8, ls="--")
    c.text(xs[0], mem[0] + 45, "Python and its libraries alone", fontsize=8, color="0.4")
    c.set(xlabel="citizens", ylabel="MB", ylim=(0, 1700), title="Peak memory (building included)")
    c.legend(fontsize=8, loc="center left")

    ties = data["ties"]
    xt = [p["ties"] * 2 / p["citizens"] for p in ties]
    yt = [p["step_ms"] / 1e3 for p in ties]
    d.loglog(xt, yt, "o-", color=green, label=f"measured (slope {slope(xt, yt):.2f})")
    _reference(d, xt, yt)
    d.set(xlabel="ties per citizen (mean degree), 100,000 citizens", ylabel="seconds per month",
          title="Ties cost little: only active citizens' ties are read")
    d.xaxis.set_major_locator(FixedLocator([2, 4, 8, 16, 32, 60]))
    d.xaxis.set_major_formatter(ScalarFormatter())
    d.xaxis.set_minor_locator(NullLocator())
    d.set_ylim(min(yt) / 3, max(yt) * 10)
    d.legend(fontsize=8, loc="upper left")

    st = data["steps"]
    xs_ = [p["steps"] for p in st]
    ys_ = [p["run_s"] for p in st]
    e.loglog(xs_, ys_, "o-", color=green, label=f"measured (slope {slope(xs_, ys_):.2f})")
    _reference(e, xs_, ys_)
    e.set(xlabel="months, 100,000 citizens", ylabel="seconds for the run (after building)",
          title="Run time: linear in months")
    e.legend(fontsize=8, loc="upper left")

    big = max(cit, key=lambda p: p["citizens"] if p["citizens"] <= 1_000_000 else 0)
    stages = big.get("stage_ms_per_step", {})
    if stages:
        names = list(stages)
        labels = [STAGE_LABELS.get(k, k) for k in names]
        f.barh(labels[::-1], [stages[k] for k in names][::-1], color=green)
        for y, k in enumerate(names[::-1]):
            f.text(stages[k], y, f" {stages[k]:.0f}", va="center", fontsize=8)
        f.set(xlabel="milliseconds per month", title=f"A month of {big['citizens']:,} citizens")
        f.set_xlim(0, max(stages.values()) * 1.25)
    else:
        f.axis("off")
    for ax in (a, b, d, e):
        ax.grid(True, which="both", alpha=0.25)
    c.grid(True, which="both", alpha=0.25)
    f.grid(True, axis="x", alpha=0.25)
    m = data["machine"]
    fig.suptitle(f"coprod-sim on {m['cpu']} ({m['cores']} cores, one used); fresh process per point,"
                 f" medians of {data['repeats']}; numba {m['numba']}, numpy {m['numpy']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if args.plot_only:
        data = json.loads(RESULTS.read_text())
    else:
        data = collect(args.repeats)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {plot(data, FIGURE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
