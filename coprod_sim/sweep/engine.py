"""Sweeps: every run of a scenario on an executor, each result on disk as soon as it is done.

``sweep(scenario, out)`` runs on local worker processes by default; pass any
``concurrent.futures``-style executor (a Dask ``client.get_executor()``, say) to run
elsewhere. The folder ``out`` is laid out as :mod:`coprod_sim.sweep.store` says.

A run's results depend only on its parameters and seed, so the tables are the same whatever
the executor, the number of workers, or how often the sweep was interrupted and resumed.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from coprod_sim.scenario.plan import Scenario
from coprod_sim.sweep.errors import SweepError, SweepInterrupted
from coprod_sim.sweep.executors import (
    ExecutorPlan,
    default_workers,
    given,
    open_executor,
    shutdown,
    terminate_workers,
)
from coprod_sim.sweep.lock import folder_lock
from coprod_sim.sweep.manifest import Manifest, code_fingerprint
from coprod_sim.sweep.progress import Progress
from coprod_sim.sweep.store import OWN_FILE, Store
from coprod_sim.sweep.tables import assemble
from coprod_sim.sweep.task import DONE, FAILED, PENDING, Outcome, failure_text, run_task


class _Terminate(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


@dataclass
class SweepResult:
    out: Path
    total: int
    done: int
    failed: dict[int, str] = field(default_factory=dict)  # run index -> error
    seconds: float = 0.0
    executor: str = ""
    resumed: int = 0  # runs already on disk when this call started

    @property
    def ok(self) -> bool:
        return not self.failed and self.done == self.total


def execution_order(scenario: Scenario) -> Iterator[int]:
    """Replication by replication, so an interrupted sweep already compares every policy."""
    for r in range(scenario.replications):
        for p in range(scenario.n_points):
            yield p * scenario.replications + r


def sweep(scenario: Scenario, out: str | Path, *, workers: int | None = None,
          scheduler: str | None = None, executor: Executor | None = None,
          max_in_flight: int | None = None, resume: bool = False, overwrite: bool = False,
          progress: bool | str = True, note: Callable[[str], None] | None = None,
          run_timeout: float | None = None, allow_code_change: bool = False) -> SweepResult:
    """Run every run of ``scenario`` not yet on disk in ``out``, then assemble the tables.

    ``executor`` (any ``concurrent.futures.Executor``) takes precedence over ``workers`` and
    ``scheduler``. A run that raises anything, kills its worker process or runs longer than
    ``run_timeout`` seconds is recorded as failed and the sweep goes on. Raises SweepError
    (exit 2; nothing written) if the sweep cannot start as asked, SweepInterrupted on
    Ctrl-C/SIGTERM after saving what finished. ``progress``: True (a bar on a terminal, plain
    lines elsewhere), "plain", or False. Local workers start from a fork server that imports
    the calling script: a script needs the ``if __name__ == "__main__":`` guard.
    """
    store = Store(out)
    note = note or (lambda text: print(text, file=sys.stderr))
    _check_options(workers, run_timeout, max_in_flight)
    _check_out_path(store)
    if not overwrite:
        _check_folder(store, scenario, resume)  # refuse before anything is written
        _check_code(store, allow_code_change, lambda _: None)
    if executor is not None:
        cap = max_in_flight or 2 * max(1, getattr(executor, "_max_workers", 4))
        context = given(ExecutorPlan(executor, cap, type(executor).__name__))
    else:
        context = open_executor(workers, scheduler)
    with context as plan:
        if max_in_flight:
            plan.capacity = max_in_flight
        elif run_timeout and plan.local:
            plan.capacity = workers or default_workers()  # each run starts when submitted
        with _output_folder(store) as fresh, folder_lock(store.out, f"coprod sweep of"
                                                         f" {scenario.name!r}", note):
            if overwrite:
                store.clear()
            elif not fresh:
                _check_folder(store, scenario, resume)  # again, now that the folder is ours
            codes = _check_code(store, allow_code_change, note)
            store.prepare()
            return _run(scenario, store, plan, codes, progress, run_timeout, note)


def _run(scenario: Scenario, store: Store, plan: ExecutorPlan, codes: dict[int, str],
         progress: bool | str, run_timeout: float | None, note: Callable[[str], None]) -> SweepResult:
    done, _ = store.finished()
    status = {i: DONE if i in done else PENDING for i in range(scenario.n_runs)}
    errors: dict[int, str] = {}
    todo = [i for i in execution_order(scenario) if status[i] != DONE]  # failed ones are retried
    start = time.perf_counter()
    manifest = Manifest(store, scenario, plan.label, status, errors, codes)
    manifest.write()
    try:
        with sigterm_as_interrupt(), Progress(progress, len(status), len(status) - len(todo)) as bar:
            _Dispatcher(scenario, store, plan, status, errors, manifest, bar, run_timeout).run(todo)
    except KeyboardInterrupt:
        terminate_workers(plan.executor)
        manifest.write()
        n_done = sum(1 for s in status.values() if s == DONE)
        raise SweepInterrupted(n_done, len(status), store.out) from None
    manifest.write()
    seconds = time.perf_counter() - start
    assemble(scenario, store, status, errors, note=note)
    n_done = sum(1 for s in status.values() if s == DONE)
    return SweepResult(store.out, len(status), n_done, dict(sorted(errors.items())), seconds, plan.label,
                       resumed=len(status) - len(todo))


def _check_options(workers: int | None, run_timeout: float | None, max_in_flight: int | None) -> None:
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise SweepError(f"--workers {workers}: allowed an integer of at least 1.", "--workers")
    if run_timeout is not None and not (isinstance(run_timeout, (int, float))
                                        and math.isfinite(run_timeout) and run_timeout > 0):
        raise SweepError(f"--run-timeout {run_timeout}: allowed a number of seconds above 0.",
                         "--run-timeout")
    if max_in_flight is not None and max_in_flight < 1:
        raise SweepError(f"max_in_flight = {max_in_flight}: allowed an integer of at least 1.",
                         "max_in_flight")


def _check_out_path(store: Store) -> None:
    if store.out.exists() and not store.out.is_dir():
        raise SweepError(f"--out {store.out} is a file, not a folder.")
    parent = next((p for p in store.out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise SweepError(f"--out {store.out}: {parent} is a file, not a folder.")


@contextmanager
def _output_folder(store: Store) -> Iterator[bool]:
    """The output folder, made if need be (True if made here); removed again if the sweep
    stops before writing anything in it (a refused sweep leaves no trace)."""
    fresh = not store.out.exists()
    store.out.mkdir(parents=True, exist_ok=True)
    try:
        yield fresh
    except BaseException:
        if fresh and not store.manifest.exists():
            shutil.rmtree(store.out, ignore_errors=True)
        raise


def _check_code(store: Store, allow: bool, note: Callable[[str], None]) -> dict[int, str]:
    """The code version of every run on disk (from the manifest); refuse a mix unless allowed."""
    old = store.read_manifest() or {}
    default = old.get("code")
    codes = {}
    done = store.finished()[0]
    for entry in old.get("runs", []):
        if isinstance(entry, dict) and entry.get("run") in done:
            codes[entry["run"]] = entry.get("code") or default or "unknown"
    now = code_fingerprint()
    before = sorted(set(codes.values()) - {now})
    if before and not allow:
        raise SweepError(
            f"{store.out} holds {sum(c != now for c in codes.values())} runs computed by another"
            f" version of coprod-sim's code (code {', '.join(before)}; this one is {now}): resuming"
            " would mix results of two versions of the model in one table. Start again with"
            " --overwrite, choose another --out, or add --allow-code-change to mix them knowingly"
            " (the manifest then records each run's code).", "--resume")
    if before:
        note(f"Warning: mixing runs of code {', '.join(before)} with runs of code {now}"
             " (--allow-code-change); manifest.json records the code of every run.")
    return codes


def _check_folder(store: Store, scenario: Scenario, resume: bool) -> None:
    old = store.read_manifest()
    if old is None:
        if store.parts.is_dir() and any(OWN_FILE.match(p.name) for p in store.parts.iterdir()):
            raise SweepError(f"{store.out} holds run files but no manifest.json: choose another --out,"
                             " or --overwrite to start again.")
        return
    name = old["scenario"].get("name", "?")
    on_disk = len(store.finished()[0])
    if not resume:
        raise SweepError(
            f"{store.out} already holds a sweep of {name!r} ({on_disk} of"
            f" {old['scenario'].get('n_runs', '?')} runs done). Add --resume to complete it"
            " (finished runs are kept), --overwrite to discard it, or choose another --out.")
    if old["scenario"].get("fingerprint") != scenario.fingerprint():
        raise SweepError(
            f"{store.out} holds a sweep of a different plan ({name!r}, from"
            f" {old['scenario'].get('file', '?')}): the scenario's seed, replications,"
            " parameters, policies, design or command-line options changed since. Resume it with"
            " the same file and options, use another --out, or --overwrite to discard it.")


class _Dispatcher:
    """Keep at most ``plan.capacity`` runs in flight; record each as it finishes.

    If a worker process dies (killed, out of memory, a crash in compiled code, a rule calling
    ``os._exit``), the pool is replaced and the runs that were in flight are rerun one at a
    time: only a run that kills a worker on its own is recorded as failed, the others were
    bystanders. A run past ``run_timeout`` seconds is recorded as failed; on local processes
    its pool is replaced (stopping it) and the other runs in flight start again.
    """

    def __init__(self, scenario: Scenario, store: Store, plan: ExecutorPlan, status: dict[int, str],
                 errors: dict[int, str], manifest: Manifest, bar: Progress,
                 run_timeout: float | None = None):
        self.scenario, self.store, self.plan = scenario, store, plan
        self.status, self.errors, self.manifest, self.bar = status, errors, manifest, bar
        self.run_timeout = run_timeout
        self.queue: Iterator[int] = iter(())
        self.requeued: list[int] = []  # not started because the pool broke: submit first
        self.suspects: list[int] = []  # in flight when a worker died: rerun alone
        self.in_flight: dict[Future, int] = {}
        self.started: dict[Future, float] = {}  # when each run was first seen running

    def run(self, todo: list[int]) -> None:
        self.queue = iter(todo)
        self.top_up()
        while self.in_flight:
            finished, _ = cf.wait(list(self.in_flight), timeout=0.5, return_when=FIRST_COMPLETED)
            broken: BaseException | None = None
            for future in finished:
                index = self.in_flight.pop(future)
                self.started.pop(future, None)
                outcome, exc = self.collect(future, index, len(finished))
                broken = exc or broken
                if outcome is not None:
                    self.record(index, outcome)
            if broken is not None:
                self.broke(broken)
            self.stop_overdue()
            self.manifest.maybe_write()
            self.top_up()

    def collect(self, future: Future, index: int, n_finished: int
                ) -> tuple[Outcome | None, BaseException | None]:
        """The run's outcome (None: a suspect to rerun alone), and the pool's breakage if any."""
        exc = future.exception()  # never raises what the run raised (SystemExit included)
        if exc is None:
            return future.result(), None
        if isinstance(exc, cf.BrokenExecutor):  # a worker process died
            alone = not self.in_flight and n_finished == 1
            if alone or self.plan.restart is None:
                return Outcome(index, FAILED, error="the worker process running it died"
                               f" ({type(exc).__name__}: {exc})"), exc
            self.suspects.append(index)
            return None, exc
        # the executor's failure (e.g. a Dask worker lost), or what a run raised past run_task
        trace = "".join(traceback.format_exception(exc))
        return Outcome(index, FAILED, error=failure_text(exc), traceback=trace), None

    def stop_overdue(self) -> None:
        """Record runs past the time limit as failed; stop them (local pools: a new pool)."""
        if not self.run_timeout:
            return
        now = time.monotonic()
        for future in list(self.in_flight):
            if future not in self.started and future.running():
                self.started[future] = now
        overdue = [f for f, t in self.started.items() if now - t > self.run_timeout]
        for future in overdue:
            index = self.in_flight.pop(future)
            self.started.pop(future)
            future.cancel()
            self.record(index, Outcome(index, FAILED, error=f"stopped: it ran longer than the"
                                       f" --run-timeout of {self.run_timeout:g} s"))
        if overdue and self.plan.local and self.plan.restart is not None:
            self.requeued[:0] = sorted(self.in_flight.values())  # bystanders: start them again
            self.in_flight.clear()
            self.started.clear()
            terminate_workers(self.plan.executor)
            shutdown(self.plan.executor, cancel=True)
            self.plan.executor = self.plan.restart()

    def submit(self, index: int) -> bool:
        try:
            future = self.plan.executor.submit(run_task, self.scenario.run_by_index(index))
        except cf.BrokenExecutor as exc:  # a worker died before we heard of it
            self.requeued.append(index)
            self.broke(exc)
            return False
        self.in_flight[future] = index
        return True

    def top_up(self) -> None:
        while True:
            if self.suspects:
                if self.in_flight or not self.submit(self.suspects.pop(0)):
                    return
                continue  # loop only to return: one suspect at a time
            if len(self.in_flight) >= self.plan.capacity:
                return
            index = self.requeued.pop(0) if self.requeued else next(self.queue, None)
            if index is None:
                return
            self.submit(index)

    def broke(self, exc: BaseException) -> None:
        """The pool is dead: what was in flight is suspect; start a new pool."""
        if self.plan.restart is None:
            raise SweepError(f"the executor stopped working ({type(exc).__name__}: {exc}); finished"
                             " runs are saved, rerun with --resume.", "--scheduler") from None
        self.suspects.extend(self.in_flight.values())
        self.suspects.sort()
        self.in_flight.clear()
        self.started.clear()
        shutdown(self.plan.executor, cancel=True)
        self.plan.executor = self.plan.restart()

    def record(self, index: int, outcome: Outcome) -> None:
        if outcome.status == DONE:
            if outcome.hoods is not None:  # first: a run found done has its neighbourhoods
                self.store.write_hoods(index, outcome.hoods)
            self.store.write_part(index, outcome.table)
            self.status[index] = DONE
            self.errors.pop(index, None)
            self.manifest.codes[index] = self.manifest.code
        else:
            self.store.write_failure(index, outcome)
            self.status[index] = FAILED
            self.errors[index] = outcome.error or "failed"
        self.bar.advance(outcome.status == FAILED)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within this block, SIGTERM (a scheduler's or ``kill``'s stop) stops like Ctrl+C.

    So a sweep or a study stopped that way keeps what it has finished and says how to resume.
    Outside the main thread signals cannot be handled, and the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminate()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
