"""Figures of a single run: the selection bias and the virtuous cycle over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import pandas as pd

from coprod_sim.names import (
    NON_PARTICIPANT_COLOUR,
    PARTICIPANT_COLOUR,
    QUINTILE_COLOURS,
    QUINTILE_COLUMNS,
    QUINTILE_LABELS,
)


def plot_quintiles(ax, ts: pd.DataFrame) -> None:
    for col, colour, label in zip(QUINTILE_COLUMNS, QUINTILE_COLOURS, QUINTILE_LABELS, strict=True):
        ax.plot(ts["step"], 100 * ts[col], color=colour, label=label, lw=2)
    ax.set_xlabel("month")
    ax.set_ylabel("% active in the past year")
    ax.set_title("Participation by socio-economic quintile")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def plot_efficacy(ax, ts: pd.DataFrame) -> None:
    ax.plot(ts["step"], ts["efficacy_participants"], color=PARTICIPANT_COLOUR, lw=2, label="participants")
    ax.plot(ts["step"], ts["efficacy_participants_baseline"], color=PARTICIPANT_COLOUR, lw=1.2, ls="--",
            label="participants' own starting level")
    ax.plot(ts["step"], ts["efficacy_non_participants"], color=NON_PARTICIPANT_COLOUR, lw=2,
            label="non-participants")
    ax.set_xlabel("month")
    ax.set_ylabel("mean self-efficacy (0-1)")
    ax.set_title("Self-efficacy: the virtuous cycle")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)


def run_figure(ts: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Two panels: participation by SES quintile, and efficacy of participants vs others."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    plot_quintiles(axes[0], ts)
    plot_efficacy(axes[1], ts)
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
