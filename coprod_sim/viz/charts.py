"""The page's live plots: figures built once per model whose lines move each month.

The x axis spans the whole run (``simulation.steps`` months) from the start, as NetLogo's
plots do, so the frame never changes and only the lines are redrawn (see
:class:`~coprod_sim.viz.render.Blitter`); a y axis widens, rarely, when the data outgrow it.
Object API only (no pyplot): the page draws from worker threads.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from coprod_sim.names import BIAS_COLOUR, LEVEL_COLOURS, LEVELS, QUINTILE_COLOURS, QUINTILE_COLUMNS
from coprod_sim.names import NON_PARTICIPANT_COLOUR as OTHERS
from coprod_sim.names import PARTICIPANT_COLOUR as PARTICIPANTS
from coprod_sim.viz.cycle import HORIZON, CycleTracker
from coprod_sim.viz.i18n import number, percent, t
from coprod_sim.viz.render import DPI, Blitter, marks

if TYPE_CHECKING:
    from coprod_sim.model import CoproductionModel



def series(model: CoproductionModel, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The recorded outcomes so far, one array per column (month 0 first): the columns
    ``names`` (and ``step``), or all of them.

    While the page plays, the model steps in another thread than the one drawing, so a new
    month may be half recorded: every column is cut to the months recorded in all of them.
    """
    recorded = model.datacollector.model_vars
    wanted = recorded if names is None else ["step", *names]
    columns = {k: list(recorded[k]) for k in wanted}
    months = min(len(v) for v in recorded.values())
    return {k: np.asarray(v[:months], dtype=float) for k, v in columns.items()}


FONT = 11  # points: 14.7 px at 96 dpi, readable from the back of a classroom


class Chart:
    """One live plot in one language: a frame drawn once, lines that :meth:`draw` moves."""

    name = ""
    ylim: tuple[float, float] = (0.0, 1.0)
    ystep = 0.1  # a widened y axis ends on a multiple of this
    legend_reversed = False
    xlabel_key = "chart.month"
    axes_box = (0.17, 0.34, 0.79, 0.50)  # room below for the legend
    legend_columns = 2
    decimals = 2
    columns: tuple[str, ...] = ()  # the recorded outcomes it draws

    def __init__(self, months: int, lang: str = "en", width: float = 4.2, height: float = 3.5,
                 dpi: int = DPI):
        self.lang = lang
        fig = Figure(figsize=(width, height))
        self.ax = ax = fig.add_axes(self.axes_box)
        fig.text(0.02, 0.98, t(f"chart.{self.name}.title", lang), fontsize=FONT + 1, va="top",
                 weight="bold")
        self.note = fig.text(0.02, 0.905, "", fontsize=FONT, va="top", color=PARTICIPANTS, weight="bold")
        ax.set_xlabel(t(self.xlabel_key, lang), fontsize=FONT)
        ax.set_ylabel(t(f"chart.{self.name}.ylabel", lang), fontsize=FONT)
        ax.tick_params(labelsize=FONT)
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v, lang, self.decimals)))
        ax.grid(alpha=0.3)
        ax.set_xlim(0, max(self.x_extent(months), 1))
        ax.set_ylim(*self.ylim)
        self.blitter = Blitter(fig, dpi)
        self.setup()
        handles, labels = ax.get_legend_handles_labels()
        if self.legend_reversed:
            handles, labels = handles[::-1], labels[::-1]
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), fontsize=FONT,
                   frameon=False, handlelength=1.2, labelspacing=0.2, columnspacing=0.8,
                   ncol=self.legend_columns, handletextpad=0.4)
        self.blitter.moving = list(self.moving())

    def x_extent(self, months: int) -> int:
        return months

    @property
    def fig(self) -> Figure:
        return self.blitter.fig

    def setup(self) -> None:
        """Create the (empty) lines."""

    def moving(self) -> list:
        """The artists redrawn each frame."""
        return []

    def draw(self, s: Mapping[str, np.ndarray], cycle: CycleTracker | None) -> None:
        """Move the lines to the recorded outcomes ``s`` (and the first-timers of ``cycle``)."""

    def reset(self) -> None:
        """Back to the y range of a new run (the backgrounds drawn for it stay cached)."""
        self.ax.set_ylim(*self.ylim)

    def png(self, model: CoproductionModel, cycle: CycleTracker | None = None) -> bytes:
        """The chart for the model's current month, as PNG bytes."""
        with self.blitter.lock:
            self.draw(series(model, self.columns), cycle)
            self.blitter.moving = self.moving()
            return self.blitter.frame(self.ax.get_ylim())

    def frame(self, model: CoproductionModel, cycle: CycleTracker | None = None) -> dict:
        """The chart for the model's current month as the browser paints it: the still
        frame (a data URI, made once per y range) and the lines and texts as marks."""
        with self.blitter.lock:
            self.draw(series(model, self.columns), cycle)
            self.blitter.moving = self.moving()
            width, height = self.blitter.size
            return {"still": self.blitter.still(self.ax.get_ylim()), "marks": marks(self.blitter),
                    "width": width, "height": height}

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


class EfficacyChart(Chart):
    """Participants against everyone else, and the same participants at month 0: the dashed
    line already starts high, which is selection."""

    name = "efficacy"
    columns = ("efficacy_participants", "efficacy_participants_baseline", "efficacy_non_participants")

    def setup(self) -> None:
        lang = self.lang
        self.now = self.ax.plot([], [], color=PARTICIPANTS, lw=2.2, label=t("chart.efficacy.now", lang))[0]
        self.start = self.ax.plot([], [], color=PARTICIPANTS, lw=1.4, ls="--",
                                  label=t("chart.efficacy.start", lang))[0]
        self.others = self.ax.plot([], [], color=OTHERS, lw=2.2, label=t("chart.efficacy.others", lang))[0]

    def moving(self) -> list:
        return [self.start, self.now, self.others]

    def draw(self, s, cycle) -> None:
        months = s["step"][1:]
        self.now.set_data(months, s["efficacy_participants"][1:])
        self.start.set_data(months, s["efficacy_participants_baseline"][1:])
        self.others.set_data(months, s["efficacy_non_participants"][1:])


class CycleChart(Chart):
    """The virtuous cycle itself: first-timers against matched citizens (see viz.cycle)."""

    name = "cycle"
    xlabel_key = "chart.cycle.xlabel"
    ylim = (-0.05, 0.15)
    ystep = 0.05

    def x_extent(self, months: int) -> int:
        return min(HORIZON, months)

    def setup(self) -> None:
        lang = self.lang
        self.ax.axhline(0, color="black", lw=0.8)
        self.first = self.ax.plot([], [], color=PARTICIPANTS, lw=2.2, label=t("chart.cycle.first", lang))[0]
        self.matched = self.ax.plot([], [], color=OTHERS, lw=2.2, label=t("chart.cycle.matched", lang))[0]

    def moving(self) -> list:
        return [self.first, self.matched, self.note]

    def draw(self, s, cycle) -> None:
        if cycle is None:  # nothing to show (and nothing left from another town's drawing)
            self.first.set_data([], [])
            self.matched.set_data([], [])
            self.note.set_text("")
            return
        months, first, matched = cycle.curves()
        self.first.set_data(months, first)
        self.matched.set_data(months, matched)
        self.widen(np.concatenate([first, matched]))
        effect = cycle.effect()
        self.note.set_text(t("chart.cycle.wait", self.lang) if effect is None else t(
            "chart.cycle.effect", self.lang, months=effect[0],
            effect=number(effect[1], self.lang, sign=True)))


class QuintileChart(Chart):
    name = "quintiles"
    columns = tuple(QUINTILE_COLUMNS)
    ylim = (0.0, 0.3)
    legend_columns = 3

    def setup(self) -> None:
        self.lines = [self.ax.plot([], [], color=c, lw=2.0, label=t(f"quintile.{q}", self.lang))[0]
                      for q, c in enumerate(QUINTILE_COLOURS)]
        self.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: percent(v, self.lang)))

    def moving(self) -> list:
        return self.lines

    def draw(self, s, cycle) -> None:
        months = s["step"][1:]
        for line, col in zip(self.lines, QUINTILE_COLUMNS, strict=True):
            line.set_data(months, s[col][1:])
        self.widen(np.concatenate([s[c] for c in QUINTILE_COLUMNS]))


class LevelChart(Chart):
    """Participation at each level of involvement (Voorberg, Bekkers & Tummers 2015), and who
    holds the demanding levels: the better-off half's share of design and initiative
    episodes over the past year."""

    name = "levels"
    ylim = (0.0, 0.3)
    legend_columns = 2
    columns = (*(f"participation_year_{lv}" for lv in LEVELS), "advantaged_high_level_share",
               "high_level_share", "participation")
    NOTE_MONTHS = 12

    def setup(self) -> None:
        self.lines = [self.ax.plot([], [], color=c, lw=2.2, label=t(f"level.{lv}", self.lang))[0]
                      for lv, c in zip(LEVELS, LEVEL_COLOURS, strict=True)]
        self.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: percent(v, self.lang)))

    def moving(self) -> list:
        return [*self.lines, self.note]

    def draw(self, s, cycle) -> None:
        months = s["step"][1:]
        for line, lv in zip(self.lines, LEVELS, strict=True):
            line.set_data(months, s[f"participation_year_{lv}"][1:])
            self.widen(s[f"participation_year_{lv}"])
        share = advantaged_share(s, self.NOTE_MONTHS)
        self.note.set_text(t("chart.levels.wait", self.lang) if share is None else
                           t("chart.levels.note", self.lang, share=percent(share, self.lang)))


def advantaged_share(s: Mapping[str, np.ndarray], months: int) -> float | None:
    """The better-off half's share of the design and initiative episodes of the last
    ``months`` months (each month weighted by its number of such episodes: the share of
    episodes at those levels times the share of citizens active); None before a year, or
    with none."""
    if len(s["step"]) <= months:
        return None
    weight = np.nan_to_num(s["high_level_share"][-months:] * s["participation"][-months:])
    share = s["advantaged_high_level_share"][-months:]
    ok = np.isfinite(share) & (weight > 0)
    if weight[ok].sum() <= 0:
        return None
    return float(np.average(share[ok], weights=weight[ok]))


class ConcentrationChart(Chart):
    name = "concentration"
    columns = ("concentration_index",)
    ylim = (-0.1, 0.4)
    legend_columns = 1
    decimals = 1

    def setup(self) -> None:
        self.ax.axhline(0, color="black", lw=0.8)
        self.line = self.ax.plot([], [], color=BIAS_COLOUR, lw=2.2,
                                 label=t("chart.concentration.line", self.lang))[0]

    def moving(self) -> list:
        return [self.line]

    def draw(self, s, cycle) -> None:
        self.line.set_data(s["step"][1:], s["concentration_index"][1:])
        self.widen(s["concentration_index"][1:])


CHARTS: dict[str, type[Chart]] = {
    "efficacy": EfficacyChart,
    "cycle": CycleChart,
    "quintiles": QuintileChart,
    "levels": LevelChart,
    "concentration": ConcentrationChart,
}
"""The live plots. The page shows four, two by two: ``quintiles`` or ``levels`` (the switch
"who takes part") in the third place."""

WHO = ("quintiles", "levels")
"""The plots the page's "who takes part" switch chooses between."""


def shown_charts(who: str) -> list[str]:
    """The four plots on the page, in order, with ``who`` (one of WHO) in the third place."""
    if who not in WHO:
        raise ValueError(f"who must be one of {WHO}, not {who!r}")
    return [name for name in CHARTS if name not in WHO or name == who]


_shared: dict[tuple[str, int, str], Chart] = {}
_shared_lock = threading.Lock()


def shared_chart(name: str, months: int, lang: str) -> Chart:
    """The plot ``name`` for runs of ``months`` months in ``lang``, one for the whole server.

    A plot's figure depends only on these three and on its y range, so the sessions of a class
    take turns on one figure (under its blitter's lock), each setting its own y range first
    (:meth:`coprod_sim.viz.session.Town.chart_frame`). The frame and its still are then drawn
    once for the class instead of once per tab: 30 tabs held 30 copies of each figure (its
    artists, its pixel buffer, a background per y range), a third of a tab's memory, and drew
    each frame again (a twelfth of the server's time while a class stepped)."""
    key = (name, months, lang)
    with _shared_lock:
        chart = _shared.get(key)
        if chart is None:
            chart = _shared[key] = CHARTS[name](months, lang)
        return chart


def forget_widened_ranges() -> None:
    """Drop the shared plots' backgrounds and stills for every y range but their first (called
    when a class has left): a class's levers widen the axes to ranges of their own, each with
    a background of about half a megabyte, which would otherwise stay until the server stops."""
    with _shared_lock:
        charts = list(_shared.values())
    for chart in charts:
        chart.blitter.forget(keep=chart.ylim)


def make_charts(months: int, lang: str) -> dict[str, Chart]:
    """One set of the page's plots for a run of ``months`` months, in ``lang``."""
    return {name: cls(months, lang) for name, cls in CHARTS.items()}
