"""Sweeps: every run of a scenario on an executor, each result on disk as soon as it is done.

``sweep(scenario, out)`` runs on local worker processes by default; pass any
``concurrent.futures``-style executor (a Dask ``client.get_executor()``, say) to run
elsewhere. The folder ``out`` is laid out as :mod:`coprod_sim.sweep.store` says.

A run's results depend only on its parameters and seed, so the tables are the same whatever
the executor, the number of workers, or how often the sweep was interrupted and resumed.
"""

from __future__ import annotations

import concurrent.futures as cf
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
    given,
    open_executor,
    shutdown,
    terminate_workers,
)
from coprod_sim.sweep.manifest import Manifest, code_fingerprint
from coprod_sim.sweep.progress import Progress
from coprod_sim.sweep.store import Store
from coprod_sim.sweep.tables import assemble
from coprod_sim.sweep.task import DONE, FAILED, PENDING, Outcome, run_task


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
          progress: bool = True, note: Callable[[str], None] | None = None) -> SweepResult:
    """Run every run of ``scenario`` not yet on disk in ``out``, then assemble the tables.

    ``executor`` (any ``concurrent.futures.Executor``) takes precedence over ``workers`` and
    ``scheduler``. Raises SweepInterrupted on Ctrl-C/SIGTERM after saving what finished.
    Local workers start from a fork server that imports the calling script: a script needs
    the ``if __name__ == "__main__":`` guard.
    """
    store = Store(out)
    note = note or (lambda text: print(text, file=sys.stderr))
    _check_folder(store, scenario, resume, overwrite)
    _check_code(store, note)
    store.prepare()
    done, _ = store.finished()
    status = {i: DONE if i in done else PENDING for i in range(scenario.n_runs)}
    errors: dict[int, str] = {}
    todo = [i for i in execution_order(scenario) if status[i] != DONE]  # failed ones are retried

    if executor is not None:
        cap = max_in_flight or 2 * max(1, getattr(executor, "_max_workers", 4))
        context = given(ExecutorPlan(executor, cap, type(executor).__name__))
    else:
        context = open_executor(workers, scheduler)
    start = time.perf_counter()
    with context as plan:
        if max_in_flight:
            plan.capacity = max_in_flight
        manifest = Manifest(store, scenario, plan.label, status, errors)
        manifest.write()
        try:
            with _sigterm_as_interrupt(), Progress(progress, len(status), len(status) - len(todo)) as bar:
                _Dispatcher(scenario, store, plan, status, errors, manifest, bar).run(todo)
        except KeyboardInterrupt:
            terminate_workers(plan.executor)
            manifest.write()
            n_done = sum(1 for s in status.values() if s == DONE)
            raise SweepInterrupted(n_done, len(status), store.out) from None
        manifest.write()
    seconds = time.perf_counter() - start
    assemble(scenario, store, status, errors)
    n_done = sum(1 for s in status.values() if s == DONE)
    return SweepResult(store.out, len(status), n_done, dict(sorted(errors.items())), seconds, plan.label,
                       resumed=len(status) - len(todo))


def _check_code(store: Store, note: Callable[[str], None]) -> None:
    old = store.read_manifest() or {}
    before, now = old.get("code"), code_fingerprint()
    if before and before != now and store.finished()[0]:
        note(f"Warning: coprod-sim's code changed since this sweep started (code {before} -> {now});"
             " the runs already done were computed by the older code. For tables from one version"
             " of the model, start again with --overwrite.")


def _check_folder(store: Store, scenario: Scenario, resume: bool, overwrite: bool) -> None:
    if store.out.exists() and not store.out.is_dir():
        raise SweepError(f"--out {store.out} is a file, not a folder.")
    old = store.read_manifest()
    if old is None:
        if store.parts.is_dir() and any(store.parts.iterdir()) and not overwrite:
            raise SweepError(f"{store.out} holds run files but no manifest.json: choose another --out,"
                             " or --overwrite to start again.")
        if overwrite:
            store.clear()
        return
    if overwrite:
        store.clear()
        return
    name = old.get("scenario", {}).get("name", "?")
    on_disk = len(store.finished()[0])
    if not resume:
        raise SweepError(
            f"{store.out} already holds a sweep of {name!r} ({on_disk} of"
            f" {old.get('scenario', {}).get('n_runs', '?')} runs done). Add --resume to complete it"
            " (finished runs are kept), --overwrite to discard it, or choose another --out.")
    if old.get("scenario", {}).get("fingerprint") != scenario.fingerprint():
        raise SweepError(
            f"{store.out} holds a sweep of a different plan ({name!r}, from"
            f" {old.get('scenario', {}).get('file', '?')}): the scenario's seed, replications,"
            " parameters, policies or design changed since. Resume it with the same file, use"
            " another --out, or --overwrite to discard it.")


class _Dispatcher:
    """Keep at most ``plan.capacity`` runs in flight; record each as it finishes.

    If a worker process dies (killed, out of memory, a crash in compiled code), the pool is
    replaced and the runs that were in flight are rerun one at a time: only a run that kills
    a worker on its own is recorded as failed, the others were bystanders.
    """

    def __init__(self, scenario: Scenario, store: Store, plan: ExecutorPlan, status: dict[int, str],
                 errors: dict[int, str], manifest: Manifest, bar: Progress):
        self.scenario, self.store, self.plan = scenario, store, plan
        self.status, self.errors, self.manifest, self.bar = status, errors, manifest, bar
        self.queue: Iterator[int] = iter(())
        self.requeued: list[int] = []  # not started because the pool broke: submit first
        self.suspects: list[int] = []  # in flight when a worker died: rerun alone
        self.in_flight: dict[Future, int] = {}

    def run(self, todo: list[int]) -> None:
        self.queue = iter(todo)
        self.top_up()
        while self.in_flight:
            finished, _ = cf.wait(list(self.in_flight), timeout=1.0, return_when=FIRST_COMPLETED)
            broken: BaseException | None = None
            for future in finished:
                index = self.in_flight.pop(future)
                outcome, exc = self.collect(future, index, len(finished))
                broken = exc or broken
                if outcome is not None:
                    self.record(index, outcome)
            if broken is not None:
                self.broke(broken)
            self.manifest.maybe_write()
            self.top_up()

    def collect(self, future: Future, index: int, n_finished: int
                ) -> tuple[Outcome | None, BaseException | None]:
        """The run's outcome (None: a suspect to rerun alone), and the pool's breakage if any."""
        try:
            return future.result(), None
        except cf.BrokenExecutor as exc:  # a worker process died
            alone = not self.in_flight and n_finished == 1
            if alone or self.plan.restart is None:
                return Outcome(index, FAILED, error="the worker process running it died"
                               f" ({type(exc).__name__}: {exc})"), exc
            self.suspects.append(index)
            return None, exc
        except Exception as exc:  # the executor's failure (e.g. a Dask worker lost)
            return Outcome(index, FAILED, error=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc()), None

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
        shutdown(self.plan.executor, cancel=True)
        self.plan.executor = self.plan.restart()

    def record(self, index: int, outcome: Outcome) -> None:
        if outcome.status == DONE:
            self.store.write_part(index, outcome.table)
            self.status[index] = DONE
            self.errors.pop(index, None)
        else:
            self.store.write_failure(index, outcome)
            self.status[index] = FAILED
            self.errors[index] = outcome.error or "failed"
        self.bar.advance(outcome.status == FAILED)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
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
