"""``coprod report DIR``: which policies and parameters change participation and the bias.

Reads a sweep's folder (:mod:`coprod_sim.report.load`), computes every number once
(:mod:`~coprod_sim.report.effects`, :mod:`~coprod_sim.report.designs`), draws the figures
(:mod:`~coprod_sim.report.charts`, :mod:`~coprod_sim.report.design_charts`) and writes
``effects.csv``, ``report.md``, ``report.html`` and ``figures/`` (PNG and SVG).

Nothing is lost on failure: the new figures are drawn into a temporary folder beside the old
ones and swapped in only when everything is ready; files are replaced atomically; every file
is created with the user's umask. File names never come from names in the sweep's files
unchecked (:func:`~coprod_sim.report.load.file_slug`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import pandas as pd

from coprod_sim.analysis.discovery_report import add_to_report
from coprod_sim.report import charts, design_charts, designs, effects, level_charts, levels
from coprod_sim.report.html import to_html
from coprod_sim.report.load import ReportError, Sweep, file_slug, load_sweep
from coprod_sim.report.maps import add_maps
from coprod_sim.report.markdown import FOOTER, Rows, headline, markdown

__all__ = ["ReportError", "ReportResult", "write_report"]


@dataclass
class ReportResult:
    report: Path
    html: Path
    figures_dir: Path
    figures: list[Path] = field(default_factory=list)  # one per figure (its PNG; an SVG beside it)
    headlines: list[str] = field(default_factory=list)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a new file (umask permissions) renamed over the old one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Figures:
    """Figures drawn into a fresh folder, swapped in for the old ``figures/`` at the end."""

    def __init__(self, folder: Path):
        self.final = folder / "figures"
        self.tmp = Path(tempfile.mkdtemp(prefix=".figures-new-", dir=folder))
        os.chmod(self.tmp, 0o777 & ~_umask())
        self.names: list[str] = []

    def save(self, fig: plt.Figure, name: str) -> None:
        safe = file_slug(name)
        for ext in ("png", "svg"):
            path = self.tmp / f"{safe}.{ext}"
            if path.resolve().parent != self.tmp.resolve():
                raise ReportError(f"figure name {name!r} would leave the output folder")
            fig.savefig(path, dpi=130 if ext == "png" else None,
                        metadata={"Date": None} if ext == "svg" else None)
        plt.close(fig)
        self.names.append(safe)

    def swap(self) -> None:
        """New figures in place; the user's own files kept; the report's old figures removed."""
        old = None
        if self.final.exists():
            old = self.final.with_name(f".figures-old-{os.getpid()}")
            os.replace(self.final, old)
            for f in old.iterdir():
                if f.suffix not in (".png", ".svg") and not (self.tmp / f.name).exists():
                    os.replace(f, self.tmp / f.name)
        os.replace(self.tmp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def effects_table(sw: Sweep, answers: dict[str, designs.Answer]) -> pd.DataFrame:
    """Every number of the report, one row each (see effects.py for the columns)."""
    rows = (effects.run_facts(sw) + effects.setting_rows(sw) + effects.reference_rows()
            + effects.policy_rows(sw))
    if sw.n_points > 1 and sw.kind in ("latin_hypercube", "sobol"):
        rows += effects.point_mean_rows(sw, designs.SENSITIVITY_MEASURES)
    elif sw.n_points > 1:
        rows += effects.point_rows(sw, designs.DESIGN_MEASURES)
    for ans in answers.values():
        rows += ans.rows
    rows += levels.rows(sw)
    return effects.note_not_recorded(sw, pd.DataFrame(rows))


def _draw(sw: Sweep, table: pd.DataFrame, figs: Figures) -> None:
    charts.figure_levels(sw, table, figs.save)
    charts.figure_differences(sw, table, figs.save)
    charts.figure_quintiles(sw, table, figs.save)
    charts.figure_trajectories(sw, figs.save)
    design_charts.figure_heatmaps(sw, table, figs.save)
    design_charts.figure_point_differences(sw, table, figs.save)
    design_charts.figure_response(sw, table, figs.save)
    design_charts.figure_scatter(sw, table, figs.save)
    design_charts.figure_indices(sw, table, figs.save)
    level_charts.figure_levels(sw, table, figs.save)
    level_charts.figure_levels_by_point(sw, table, figs.save)
    level_charts.figure_seats(sw, table, figs.save)


def write_report(folder: str | Path) -> ReportResult:
    """Write effects.csv, report.md, report.html and every figure that applies to this sweep.

    The sweep folder's lock is held while the report reads and writes, so a sweep cannot add
    runs under it (and a second report cannot interleave its files); a busy folder is refused.
    """
    from coprod_sim.sweep.lock import folder_lock

    with folder_lock(_existing_folder(folder), "coprod report"):
        return _write_report(folder)


def _existing_folder(folder: str | Path) -> Path:
    path = Path(folder)
    # load_sweep names a missing folder clearly; lock only one that exists
    return path if path.is_dir() else load_sweep(folder).folder


def _write_report(folder: str | Path) -> ReportResult:
    sw = load_sweep(folder)
    answers = designs.answer(sw)
    warnings = designs.unused_levers(sw) if sw.levers else []
    table = effects_table(sw, answers)
    figs = Figures(sw.folder)
    try:
        _draw(sw, table, figs)
        text = markdown(sw, table, answers, warnings, set(figs.names))
        text, table = add_to_report(sw, figs.tmp, text, table)  # scenario discovery (LHS, Sobol)
        text = add_maps(sw, figs.tmp, text)  # a town from a table with geometry
        text = text.rstrip("\n") + "\n\n" + FOOTER
        page = to_html(text, figs.tmp, f"Sweep report: {sw.scenario.get('name', sw.folder.name)}")
    except BaseException:
        figs.abandon()
        raise
    figs.swap()
    _write_text(sw.folder / "effects.csv", table.to_csv(index=False))
    _write_text(sw.folder / "report.md", text)
    _write_text(sw.folder / "report.html", page)
    rows = Rows(table)
    return ReportResult(sw.folder / "report.md", sw.folder / "report.html", figs.final,
                        [figs.final / f"{n}.png" for n in figs.names],
                        [headline(sw, rows, p) for p in sw.others])
