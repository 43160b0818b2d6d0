"""One town per browser session, and the register of open sessions.

A :class:`Town` owns a session's model, its drawings and its event study; the page keeps it
for as long as the browser tab lives. Reset builds a new model of the same town and *rebinds*
the drawings (same layout, same cached backgrounds), so it costs a model build and a frame.
Sessions share only caches of read-only drawings (:func:`coprod_sim.viz.town.town_layout`)
and the server's plots (:func:`coprod_sim.viz.charts.shared_chart`), which a town draws on
under the plot's lock after setting its own y range.

The register (:data:`SESSIONS`) counts towns for the teacher's page, enforces the cap, puts
idle towns away and frees a closed tab's town at once (Solara runs our clean-up when the tab
closes or its connection is culled).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coprod_sim.params import Parameters
from coprod_sim.town.table import town_geometry
from coprod_sim.viz.charts import Chart, forget_widened_ranges, shared_chart
from coprod_sim.viz.controls import FEEDBACK_KEY, FEEDBACK_OFF, TownModel, kwarg_name, lever_keys
from coprod_sim.viz.cycle import CycleTracker
from coprod_sim.viz.town import COLOUR_BY, TownView


@dataclass
class Limits:
    """What one server allows (``coprod viz`` sets them from its options)."""

    max_sessions: int = 8
    idle_minutes: float = 20.0


LIMITS = Limits()


def initial_levers(base: Parameters) -> dict[str, Any]:
    """The levers' values at the start: the scenario's (the tree's defaults without one)."""
    levers: dict[str, Any] = {FEEDBACK_OFF: base[FEEDBACK_KEY] == 0.0}
    levers.update({key: base[key] for key in lever_keys()})
    return levers


def model_kwargs(base: Parameters, levers: dict[str, Any]) -> dict[str, Any]:
    """Keywords of :class:`TownModel` for the scenario ``base`` with ``levers`` applied."""
    kwargs: dict[str, Any] = {"params": base, "record_neighbourhoods": False,
                              FEEDBACK_OFF: bool(levers[FEEDBACK_OFF])}
    kwargs.update({kwarg_name(key): levers[key] for key in lever_keys()})
    return kwargs


class Town:
    """A session's town: model, drawings (in the session's language) and event study."""

    def __init__(self, base: Parameters, lang: str):
        self.base = base
        self.lang = lang
        self.applied = initial_levers(base)
        self.lock = threading.RLock()
        self.generation = 0  # bumped by every Reset, so the page redraws
        self.view: TownView | None = None
        self.ylims: dict[str, tuple[float, float]] = {}  # each plot's y range in this town
        self.model: TownModel | None = None
        self.cycle: CycleTracker | None = None
        self.playing = False
        self.shown = threading.Event()  # set when the browser reports a month on screen
        self.shown_month = -1
        self.touch()
        self.reset(self.applied)

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def reset(self, levers: dict[str, Any]) -> None:
        """The same town (same seed) from month 0 with ``levers``; drawings are reused when
        the town's ties are unchanged."""
        model = TownModel(**model_kwargs(self.base, levers))
        with self.lock:
            self.applied = dict(levers)
            self.model = model
            self.cycle = CycleTracker(model.state.citizens)
            if self.view is not None and not self.view.bind(model):
                self.view = None
            self.ylims.clear()  # the plots start from their first y range again
            self.generation += 1
            self.touch()

    @property
    def put_away(self) -> bool:
        return self.model is None

    @property
    def month(self) -> int:
        return 0 if self.model is None else int(self.model.state.step)

    @property
    def last_month(self) -> int:
        return int(self.base.simulation.steps)

    @property
    def finished(self) -> bool:
        return self.model is not None and self.month >= self.last_month

    def areas(self) -> tuple[int, bool]:
        """(how many neighbourhoods, whether the town is drawn as a map)."""
        return int(self.base.population.n_neighbourhoods if self.model is None
                   else len(self.model.state.neighbourhoods)), town_geometry(self.base) is not None

    def step(self) -> bool:
        """One month; False (nothing done) at the end of the run or once put away."""
        with self.lock:
            if self.model is None or self.finished:
                return False
            self.model.step()
            self.cycle.update(self.model.state.citizens)
            self.touch()
            return True

    def set_language(self, lang: str) -> None:
        with self.lock:
            if lang != self.lang:
                self.lang, self.view = lang, None

    def picture(self, colour_by: str = COLOUR_BY[0]) -> bytes:
        with self.lock:
            if self.view is None:
                self.view = TownView(self.model, self.lang)
            return self.view.picture(colour_by)

    def chart_png(self, name: str) -> bytes:
        with self.lock:
            return self._on_chart(name, lambda chart: chart.png(self.model, self.cycle))

    @property
    def charts(self) -> dict[str, Chart]:
        """The plots this town has drawn (the server's, shared by all towns: see
        :func:`~coprod_sim.viz.charts.shared_chart`)."""
        return {name: shared_chart(name, self.last_month, self.lang) for name in self.ylims}

    def _on_chart(self, name: str, draw: Callable[[Chart], Any]) -> Any:
        """``draw(chart)`` on the server's plot ``name`` set to this town's y range, which a
        widening by ``draw`` updates; other towns wait their turn."""
        chart = shared_chart(name, self.last_month, self.lang)
        with chart.blitter.lock:
            chart.ax.set_ylim(*self.ylims.get(name, chart.ylim))
            out = draw(chart)
            self.ylims[name] = chart.ax.get_ylim()
        return out

    def town_frame(self, colour_by: str = COLOUR_BY[0]) -> dict:
        """The town now for the browser to paint (see :meth:`TownView.frame`)."""
        with self.lock:
            if self.view is None:
                self.view = TownView(self.model, self.lang)
            return {**self.view.frame(colour_by), "month": self.month}

    def chart_frame(self, name: str) -> dict:
        """Plot ``name`` now for the browser to paint (see :meth:`Chart.frame`)."""
        with self.lock:
            return self._on_chart(name, lambda chart: chart.frame(self.model, self.cycle))

    def drawn(self, month: int) -> None:
        """The browser has put ``month`` on screen (Play paces itself on it)."""
        self.shown_month = month
        self.shown.set()

    def release(self) -> None:
        """Drop the model and the drawings (an idle or closed session)."""
        with self.lock:
            self.model = self.view = self.cycle = None
            self.ylims = {}
            self.playing = False


SESSIONS: dict[str, Town] = {}
_lock = threading.Lock()


def open_town(kernel_id: str, base: Parameters, lang: str) -> Town | None:
    """This session's town, built on first call; None if the server is full."""
    with _lock:
        town = SESSIONS.get(kernel_id)
        if town is not None:
            return town
        if len(SESSIONS) >= LIMITS.max_sessions:
            return None
        SESSIONS[kernel_id] = None  # reserve the place while the town is built
    town = Town(base, lang)
    with _lock:
        if kernel_id in SESSIONS:
            SESSIONS[kernel_id] = town
            return town
    town.release()  # the tab closed while its town was being built
    return None


def session_count() -> int:
    with _lock:
        return len(SESSIONS)


def close_session(kernel_id: str) -> None:
    """Free a closed tab's town, and give the memory back to the system."""
    global _last_close, _passes_left
    with _lock:
        town = SESSIONS.pop(kernel_id, None)
        _last_close = time.monotonic()
        _passes_left = AFTER_CLASS_PASSES
    if town is not None:
        town.release()
    give_back_memory_soon()


_give_back: threading.Timer | None = None
_give_back_lock = threading.Lock()


def give_back_memory_soon(delay: float = 5.0) -> None:
    """Give memory back ``delay`` seconds from now, once for all the tabs closed meanwhile: a
    class leaving closes thirty tabs within seconds, and thirty full collections in a row held
    the server up long enough for the last tabs' goodbyes to time out."""
    global _give_back
    with _give_back_lock:
        if _give_back is not None and not _give_back.finished.is_set():
            return
        _give_back = threading.Timer(delay, give_back_memory)
        _give_back.daemon = True
        _give_back.start()


def give_back_memory() -> None:
    """Collect, then ask glibc to return freed arenas to the system (Linux only): without it
    the process keeps its peak size after the towns are gone.

    Two caches keyed by something a closed tab leaves behind are emptied first, so that what
    they hold is not scattered through memory that could otherwise be returned:

    - matplotlib keeps up to 64 fonts (FreeType faces, each with its open file) per *thread*
      that drew text, and Solara draws each tab from its own threads: the fonts of closed
      tabs' threads stay until 64 newer ones push them out;
    - the compiled month keeps a jump table per random stream, and the stream with it, for the
      last few hundred streams (:mod:`coprod_sim.month.jumps`), closed towns' included.

    An open tab opens its fonts again when it next draws a still (rarely: the browser paints
    the months), and its town builds its jump tables again at its next month (well under a
    millisecond); results are unchanged."""
    from matplotlib import font_manager

    from coprod_sim.month import jumps

    font_manager._get_font.cache_clear()  # private, as matplotlib itself clears it after a fork
    jumps.forget_streams()
    gc.collect()
    if os.name == "posix":
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


THREADS_IDLE_AFTER = 12.0
"""Seconds after the last tab closed (and between two passes) before the server's idle worker
threads are retired: anyio retires a worker idle for 10 s (``WorkerThread.MAX_IDLE_TIME``)."""
AFTER_CLASS_PASSES = 3
"""How many times memory is given back after a class: a thread that Solara kept busy tearing a
tab down is idle long enough only at a later pass."""
_last_close = 0.0
_last_pass = -math.inf
_passes_left = 0


def give_back_after_the_class(now: float | None = None) -> bool:
    """Once every town is closed, forget the plots' widened ranges, retire the server's idle
    threads and give memory back (the janitor asks every 10 s): the give-back 5 s after a
    class's first tab closes can run while the last tabs are still closing, or Solara is still
    tearing them down. Each of the :data:`AFTER_CLASS_PASSES` passes waits until
    :data:`THREADS_IDLE_AFTER` seconds after the last close and the pass before. True if it
    made one."""
    global _passes_left, _last_pass
    now = time.monotonic() if now is None else now
    with _lock:
        if (SESSIONS or not _passes_left or now - _last_close < THREADS_IDLE_AFTER
                or now - _last_pass < THREADS_IDLE_AFTER):
            return False
        _passes_left -= 1
        _last_pass = now
    forget_widened_ranges()
    if retire_idle_threads():
        time.sleep(1.0)  # the retired threads end on their own, soon after
    give_back_memory()
    return True


def _nothing() -> None:
    pass


async def _errand() -> None:
    import anyio.to_thread

    await anyio.to_thread.run_sync(_nothing)


def retire_idle_threads() -> int:
    """Have the server's event loop stop its worker threads idle for 10 s or more; how many
    loops were asked.

    Solara serves each tab from worker threads of the server's pool (anyio's), and a class
    closing its 30 tabs at once leaves about 55 of them idle. Each keeps its stack and Python
    state, which lie among the towns' freed memory and keep it from going back to the
    system: retiring them halved what a class of 30 left behind (``docs/performance.md``).
    anyio retires idle workers only when it next hands one a task, so each loop that owns
    worker threads (the attribute ``loop`` of anyio's worker threads; without it, nothing is
    done) is handed one that does nothing."""
    loops = {getattr(th, "loop", None) for th in threading.enumerate()}
    asked = 0
    for loop in loops:
        if not isinstance(loop, asyncio.AbstractEventLoop) or not loop.is_running():
            continue
        try:
            asyncio.run_coroutine_threadsafe(_errand(), loop).result(timeout=30)
            asked += 1
        except Exception:  # the loop stopped meanwhile: the server is stopping
            pass
    return asked


def put_away_idle(now: float | None = None) -> int:
    """Release the towns untouched for :attr:`Limits.idle_minutes` and not playing; how many."""
    now = time.monotonic() if now is None else now
    with _lock:
        towns = [town for town in SESSIONS.values() if town is not None]
    idle = [town for town in towns if not town.put_away and not town.playing
            and now - town.last_active > 60 * LIMITS.idle_minutes]
    for town in idle:
        town.release()
    if idle:
        give_back_memory()
    else:
        give_back_after_the_class()
    return len(idle)


_janitor: threading.Thread | None = None


def start_janitor(every: float = 10.0) -> None:
    """A daemon thread that puts idle towns away (once per process)."""
    global _janitor
    if _janitor is not None:
        return

    def loop() -> None:
        while True:
            time.sleep(every)
            put_away_idle()

    _janitor = threading.Thread(target=loop, name="coprod-viz-janitor", daemon=True)
    _janitor.start()
