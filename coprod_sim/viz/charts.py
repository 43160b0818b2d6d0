"""The page's live plots: figures built once per model whose lines move each month.

The x axis spans the whole run (``simulation.steps`` months) from the start, as NetLogo's
plots do, so the frame never changes and only the lines are redrawn (see
:class:`~coprod_sim.viz.render.Blitter`); a y axis widens, rarely, when the data outgrow it.
Object API only (no pyplot): the page draws from worker threads.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter

from coprod_sim.names import BIAS_COLOUR, QUINTILE_COLOURS, QUINTILE_COLUMNS
from coprod_sim.names import NON_PARTICIPANT_COLOUR as OTHERS
from coprod_sim.names import PARTICIPANT_COLOUR as PARTICIPANTS
from coprod_sim.names import QUINTILE_WORDS as QUINTILE_LABELS
from coprod_sim.viz.render import DPI, Blitter

if TYPE_CHECKING:
    from coprod_sim.model import CoproductionModel



def series(model: CoproductionModel) -> dict[str, np.ndarray]:
    """The recorded outcomes so far, one array per column (month 0 first).

    While the page plays, the model steps in another thread than the one drawing, so a new
    month may be half recorded: every column is cut to the months recorded in all of them.
    """
    columns = {k: list(v) for k, v in model.datacollector.model_vars.items()}
    months = min(len(v) for v in columns.values())
    return {k: np.asarray(v[:months], dtype=float) for k, v in columns.items()}


class Chart:
    """One live plot: a frame drawn once, lines that :meth:`draw` moves."""

    title = ""
    ylabel = ""
    ylim: tuple[float, float] = (0.0, 1.0)
    ystep = 0.1  # a widened y axis ends on a multiple of this
    legend_reversed = False

    def __init__(self, months: int, width: float = 5.0, height: float = 3.3, dpi: int = DPI):
        fig = Figure(figsize=(width, height))
        self.ax = ax = fig.add_axes((0.12, 0.15, 0.60, 0.74))
        ax.set_title(self.title, fontsize=10, loc="left")
        ax.set_xlabel("month", fontsize=8)
        ax.set_ylabel(self.ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, max(months, 1))
        ax.set_ylim(*self.ylim)
        self.blitter = Blitter(fig, dpi)
        self.setup()
        handles, labels = ax.get_legend_handles_labels()
        if self.legend_reversed:
            handles, labels = handles[::-1], labels[::-1]
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        self.blitter.moving = [a for a in self.moving()]

    @property
    def fig(self) -> Figure:
        return self.blitter.fig

    def setup(self) -> None:
        """Create the (empty) lines."""

    def moving(self) -> list:
        """The artists redrawn each frame."""
        return []

    def draw(self, s: Mapping[str, np.ndarray]) -> None:
        """Move the lines to the recorded outcomes ``s``."""

    def png(self, model: CoproductionModel) -> bytes:
        """The chart for the model's current month, as PNG bytes."""
        with self.blitter.lock:
            self.draw(series(model))
            self.blitter.moving = self.moving()
            return self.blitter.frame(self.ax.get_ylim())

    def widen(self, values: np.ndarray) -> None:
        """Widen the y axis to hold ``values`` (rounded out to ``ystep``); never narrows."""
        finite = values[np.isfinite(values)]
        if not len(finite):
            return
        lo, hi = self.ax.get_ylim()
        new_lo = min(lo, math.floor(finite.min() / self.ystep) * self.ystep)
        new_hi = max(hi, math.ceil(finite.max() * 1.05 / self.ystep) * self.ystep)
        if (new_lo, new_hi) != (lo, hi):
            self.ax.set_ylim(new_lo, new_hi)


class QuintileChart(Chart):
    title = "Who takes part, by income"
    ylabel = "took part in the past year"
    ylim = (0.0, 0.3)
    legend_reversed = True  # richest first, as the lines usually stack

    def setup(self) -> None:
        self.lines = [self.ax.plot([], [], color=c, lw=1.8, label=lab)[0]
                      for c, lab in zip(QUINTILE_COLOURS, QUINTILE_LABELS, strict=True)]
        self.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))

    def moving(self) -> list:
        return self.lines

    def draw(self, s) -> None:
        months = s["step"][1:]
        for line, col in zip(self.lines, QUINTILE_COLUMNS, strict=True):
            line.set_data(months, s[col][1:])
        self.widen(np.concatenate([s[c] for c in QUINTILE_COLUMNS]))


class EfficacyChart(Chart):
    title = "Self-efficacy: participants and the rest"
    ylabel = "mean self-efficacy (0-1)"

    def setup(self) -> None:
        self.now = self.ax.plot([], [], color=PARTICIPANTS, lw=2, label="participants, now")[0]
        self.start = self.ax.plot([], [], color=PARTICIPANTS, lw=1.2, ls="--",
                                  label="the same people\nwhen they started")[0]
        self.ax.add_patch(Rectangle((0, 0), 0, 0, color=PARTICIPANTS, alpha=0.2,
                                    label="gain from\ntaking part"))
        self.others = self.ax.plot([], [], color=OTHERS, lw=2, label="everyone else")[0]
        self.gain = self.ax.fill_between([], [], [])
        self.gain_label = self.ax.text(0, 0, "", fontsize=8, color=PARTICIPANTS, ha="left", va="bottom")

    def moving(self) -> list:
        return [self.gain, self.start, self.now, self.others, self.gain_label]

    def draw(self, s) -> None:
        months = s["step"][1:]
        now, start = s["efficacy_participants"][1:], s["efficacy_participants_baseline"][1:]
        self.now.set_data(months, now)
        self.start.set_data(months, start)
        self.others.set_data(months, s["efficacy_non_participants"][1:])
        self.gain.remove()
        self.gain = self.ax.fill_between(months, start, now, where=now >= start, color=PARTICIPANTS,
                                         alpha=0.2, linewidth=0, interpolate=True)
        last = np.flatnonzero(np.isfinite(now) & np.isfinite(start))
        if len(last):
            i = last[-1]
            near_end = months[i] > 0.75 * self.ax.get_xlim()[1]  # keep the label inside the axes
            self.gain_label.set_position((months[i] + (-1 if near_end else 1), now[i] + 0.03))
            self.gain_label.set_horizontalalignment("right" if near_end else "left")
            self.gain_label.set_text(f"gain {now[i] - start[i]:+.2f}")
        else:
            self.gain_label.set_text("")


class ConcentrationChart(Chart):
    title = "Is taking part concentrated among the better-off?"
    ylabel = "concentration index"
    ylim = (-0.1, 0.4)

    def setup(self) -> None:
        self.ax.axhline(0, color="black", lw=0.8)
        self.line = self.ax.plot([], [], color=BIAS_COLOUR, lw=2, label=(
            "0: rich and poor\nequally likely to\ntake part;\nabove 0: the\nbetter-off take\npart more"))[0]

    def moving(self) -> list:
        return [self.line]

    def draw(self, s) -> None:
        self.line.set_data(s["step"][1:], s["concentration_index"][1:])
        self.widen(s["concentration_index"][1:])


class RiskAversionChart(Chart):
    title = "How cautious are the administrations?"
    ylabel = "risk aversion (0-1)"

    def setup(self) -> None:
        self.line = self.ax.plot([], [], color="#6a3d9a", lw=2,
                                 label="average of the\nadministrations")[0]

    def moving(self) -> list:
        return [self.line]

    def draw(self, s) -> None:
        self.line.set_data(s["step"], s["risk_aversion_mean"])


CHARTS: dict[str, type[Chart]] = {
    "efficacy": EfficacyChart,
    "quintiles": QuintileChart,
    "concentration": ConcentrationChart,
    "risk_aversion": RiskAversionChart,
}
"""The live plots, in the order the page shows them."""

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def charts_for(model: CoproductionModel) -> dict[str, Chart]:
    """The model's charts, made on first use and kept as long as the model lives."""
    with _cache_lock:
        charts = _cache.get(model)
        if charts is None:
            months = model.params.simulation.steps
            charts = _cache[model] = {name: cls(months) for name, cls in CHARTS.items()}
        return charts
