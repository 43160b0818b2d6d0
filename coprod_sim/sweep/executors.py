"""Where a sweep's runs execute: this process, local worker processes, or a Dask cluster.

Any ``concurrent.futures``-style executor works; :func:`open_executor` makes the usual ones
and says how many runs to keep in flight on each and how to replace a broken local pool.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coprod_sim.sweep.errors import SweepError


def _worker_init(sweep_pid: int) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what happens, quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A pool worker never notices that the sweep was killed (kill -9): it would wait for work
    # forever. Watch the sweep's process and leave when it is gone.
    threading.Thread(target=_watch_parent, args=(sweep_pid,), daemon=True).start()


def _watch_parent(pid: int, every: float = 0.5) -> None:
    while True:
        time.sleep(every)
        if not alive(pid):
            os._exit(0)


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a killed process not yet reaped is a zombie: gone)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the pid reused by someone else's
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): the signal test is all we have
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A pool of local worker processes (forkserver: safe beside threads, quick to start)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["coprod_sim.sweep.task"])
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                  initargs=(os.getpid(),))


@dataclass
class ExecutorPlan:
    """An executor, how many runs to keep in flight on it, and how to replace it if it breaks."""

    executor: Executor
    capacity: int
    label: str
    restart: Callable[[], Executor] | None = None
    close: Callable[[], None] = lambda: None
    local: bool = False  # local processes: a run past its time limit can be stopped


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None) -> Iterator[ExecutorPlan]:
    """Local worker processes (``workers``, default one per CPU), or a Dask cluster at ``scheduler``."""
    if scheduler:
        plan = _dask_plan(scheduler)
        try:
            yield plan
        finally:
            plan.close()
        return
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise SweepError(f"--workers {workers}: allowed an integer of at least 1.", "--workers")
    # One worker is a worker process too, as with N: a rule that exits, kills its process or
    # hangs then fails only its own run, whatever the number of workers.
    label = "1 local worker process" if workers == 1 else f"{workers} local worker processes"
    plan = ExecutorPlan(process_pool(workers), 2 * workers, label,
                        restart=lambda: process_pool(workers), local=True)
    try:
        yield plan
    finally:
        shutdown(plan.executor, cancel=True)


def _dask_plan(scheduler: str) -> ExecutorPlan:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - a declared dependency
        raise SweepError("--scheduler needs the 'distributed' package (pip install"
                         " 'dask[distributed]').", "--scheduler") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}. Start one"
                         " with `dask scheduler` (and `dask worker ADDRESS` on each machine), then"
                         " pass its address, e.g. tcp://10.0.0.5:8786.", "--scheduler") from None
    threads = sum(client.nthreads().values()) or 1
    return ExecutorPlan(client.get_executor(pure=False), 2 * threads,
                        f"Dask cluster at {scheduler} ({threads} threads)", close=client.close)


@contextmanager
def given(plan: ExecutorPlan) -> Iterator[ExecutorPlan]:
    yield plan  # the caller owns the executor and shuts it down


def shutdown(executor: Executor, cancel: bool) -> None:
    try:
        executor.shutdown(wait=False, cancel_futures=cancel)
    except TypeError:  # executors without cancel_futures (Dask's)
        executor.shutdown(wait=False)


def terminate_workers(executor: Executor) -> None:
    """Stop a local pool's processes now rather than after their current run."""
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            proc.terminate()
        except (OSError, AttributeError):
            pass
