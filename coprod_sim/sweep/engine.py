"""Sweeps: every run of a scenario on an executor, each result on disk as soon as it is done.

``sweep(scenario, out)`` runs on local worker processes by default; pass any
``concurrent.futures``-style executor (a Dask ``client.get_executor()``, say) to run
elsewhere. The folder ``out`` holds::

    manifest.json        scenario, package version, seeds, status of every run
    runs/NNNNNNN.arrow   one finished run's time series, Arrow IPC (written atomically: temp + rename)
    runs/NNNNNNN.failed.json  a run that raised: its error and traceback
    runs.parquet         one row per run: parameters, labels, seed, outcomes (end, last quarter)
    timeseries.parquet   one row per run and month: the aggregated outcomes

A run's results depend only on its parameters and seed, so the tables are the same whatever
the executor, the number of workers, or how often the sweep was interrupted and resumed.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coprod_sim.names import OUTCOMES
from coprod_sim.params import ParameterError
from coprod_sim.run import run as simulate
from coprod_sim.run import summarise
from coprod_sim.scenario.loader import Run, Scenario

LABELS = ("run", "point", "policy", "design_point", "replication")
"""Columns that identify a run in both tables."""

SEEDING = ("numpy.random.SeedSequence(seed, spawn_key=(replication,)): the same draws for every"
           " policy and design point of a replication (coprod_sim.run.run_seed)")

DONE, FAILED, PENDING = "done", "failed", "pending"
MANIFEST_EVERY = 5.0  # seconds between manifest rewrites while running


class SweepError(ParameterError):
    """A sweep that cannot start as asked (output folder, executor); exit code 2."""

    def __init__(self, message: str, key: str = "--out"):
        super().__init__(key, message)


class SweepInterrupted(Exception):
    """Ctrl-C or a termination signal: finished runs are on disk, ``--resume`` completes the rest."""

    def __init__(self, done: int, total: int, out: Path):
        super().__init__(f"interrupted with {done} of {total} runs done in {out}")
        self.done, self.total, self.out = done, total, out


class _Terminate(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


# ====================================================================== one run
@dataclass
class Outcome:
    """What a worker sends back: the time series of a finished run, or the error of a failed one.

    The time series travels as Arrow IPC bytes made in the worker, so that the parent, which
    serves every worker, only writes them to disk.
    """

    index: int
    status: str
    table: bytes | None = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0

    @property
    def timeseries(self) -> pd.DataFrame | None:
        return None if self.table is None else _read_ipc(self.table).to_pandas()


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _read_ipc(data: bytes | pa.Buffer) -> pa.Table:
    return pa.ipc.open_file(pa.BufferReader(data)).read_all()


def run_task(run: Run) -> Outcome:
    """Execute one run (in a worker). Never raises: an error becomes a failed Outcome."""
    start = time.perf_counter()
    try:
        result = simulate(run.params, run.seed, replication=run.replication,
                          record_neighbourhoods=False)
        ts = result.timeseries
        for i, name in enumerate(LABELS):
            value = {"run": run.index, "point": run.point, "policy": run.policy,
                     "design_point": run.design_point, "replication": run.replication}[name]
            ts.insert(i, name, value)
        table = _to_ipc(pa.Table.from_pandas(ts, preserve_index=False))
        return Outcome(run.index, DONE, table, seconds=time.perf_counter() - start)
    except Exception as exc:  # the run's own failure, recorded; the sweep goes on
        return Outcome(run.index, FAILED, error=f"{type(exc).__name__}: {exc}",
                       traceback=traceback.format_exc(), seconds=time.perf_counter() - start)


# ====================================================================== executors
class InlineExecutor(Executor):
    """Runs each task in this process when submitted (one worker, no pool to start)."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def _worker_init(sweep_pid: int) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what happens, quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A pool worker never notices that the sweep was killed (kill -9): it would wait for work
    # forever. Watch the sweep's process and leave when it is gone.
    threading.Thread(target=_watch_parent, args=(sweep_pid,), daemon=True).start()


def _watch_parent(pid: int, every: float = 0.5) -> None:
    while True:
        time.sleep(every)
        if not _alive(pid):
            os._exit(0)


def _alive(pid: int) -> bool:
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
    ctx.set_forkserver_preload(["coprod_sim.sweep.engine"])
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


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None) -> Iterator[ExecutorPlan]:
    """Local processes (``workers``; 1 means in this process), or a Dask cluster at ``scheduler``."""
    if scheduler:
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
        plan = ExecutorPlan(client.get_executor(pure=False), 2 * threads,
                            f"Dask cluster at {scheduler} ({threads} threads)", close=client.close)
        try:
            yield plan
        finally:
            plan.close()
        return
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise SweepError(f"--workers {workers}: allowed an integer of at least 1.", "--workers")
    if workers == 1:
        yield ExecutorPlan(InlineExecutor(), 1, "1 worker (this process)")
        return
    plan = ExecutorPlan(process_pool(workers), 2 * workers, f"{workers} local worker processes",
                        restart=lambda: process_pool(workers))
    try:
        yield plan
    finally:
        _shutdown(plan.executor, cancel=True)


def _shutdown(executor: Executor, cancel: bool) -> None:
    try:
        executor.shutdown(wait=False, cancel_futures=cancel)
    except TypeError:  # executors without cancel_futures (Dask's)
        executor.shutdown(wait=False)


def _terminate_workers(executor: Executor) -> None:
    """Stop a local pool's processes now rather than after their current run."""
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            proc.terminate()
        except (OSError, AttributeError):
            pass


# ====================================================================== the output folder
def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """The sweep's folder: one file per finished or failed run, then the assembled tables."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self._failed: set[int] = set()
        self.parts = self.out / "runs"
        self.manifest = self.out / "manifest.json"
        self.runs_table = self.out / "runs.parquet"
        self.timeseries_table = self.out / "timeseries.parquet"

    def part(self, index: int) -> Path:
        return self.parts / f"{index:07d}.arrow"

    def failure(self, index: int) -> Path:
        return self.parts / f"{index:07d}.failed.json"

    def prepare(self) -> None:
        self.parts.mkdir(parents=True, exist_ok=True)
        self._failed = self.finished()[1]  # failure files a later success must remove
        for tmp in list(self.out.glob(".*.tmp")) + list(self.parts.glob(".*.tmp")):
            tmp.unlink(missing_ok=True)  # left by a kill mid-write; never renamed, never counted

    def finished(self) -> tuple[set[int], set[int]]:
        """Indices of runs with results on disk, and of runs recorded as failed."""
        done, failed = set(), set()
        if self.parts.is_dir():
            for p in self.parts.iterdir():
                stem = p.name.split(".", 1)[0]
                if not stem.isdigit():
                    continue
                if p.name.endswith(".failed.json"):
                    failed.add(int(stem))
                elif p.suffix == ".arrow":
                    done.add(int(stem))
        return done, failed - done

    def write_part(self, index: int, table: bytes) -> None:
        atomic_write_bytes(self.part(index), table)
        if index in self._failed:
            self.failure(index).unlink(missing_ok=True)
            self._failed.discard(index)

    def read_part(self, index: int) -> pa.Table:
        return _read_ipc(pa.memory_map(str(self.part(index))).read_buffer())

    def write_failure(self, index: int, outcome: Outcome) -> None:
        doc = {"run": index, "error": outcome.error, "traceback": outcome.traceback}
        atomic_write_bytes(self.failure(index), (json.dumps(doc, indent=2) + "\n").encode())
        self._failed.add(index)

    def read_failure(self, index: int) -> str:
        try:
            return json.loads(self.failure(index).read_text())["error"]
        except (OSError, ValueError, KeyError):
            return "failed"

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.manifest.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SweepError(f"{self.manifest} cannot be read ({exc}); this folder does not hold a"
                             " usable sweep: choose another --out, or --overwrite.") from None


# ====================================================================== the sweep
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
        context = _given(ExecutorPlan(executor, cap, type(executor).__name__))
    else:
        context = open_executor(workers, scheduler)
    start = time.perf_counter()
    with context as plan:
        if max_in_flight:
            plan.capacity = max_in_flight
        manifest = _Manifest(store, scenario, plan.label, status, errors)
        manifest.write()
        try:
            with _sigterm_as_interrupt(), _Progress(progress, len(status), len(status) - len(todo)) as bar:
                _execute(scenario, store, plan, todo, status, errors, manifest, bar)
        except KeyboardInterrupt:
            _terminate_workers(plan.executor)
            manifest.write()
            n_done = sum(1 for s in status.values() if s == DONE)
            raise SweepInterrupted(n_done, len(status), store.out) from None
        manifest.write()
    seconds = time.perf_counter() - start
    assemble(scenario, store, status, errors)
    n_done = sum(1 for s in status.values() if s == DONE)
    return SweepResult(store.out, len(status), n_done, dict(sorted(errors.items())), seconds, plan.label,
                       resumed=len(status) - len(todo))


@contextmanager
def _given(plan: ExecutorPlan) -> Iterator[ExecutorPlan]:
    yield plan  # the caller owns the executor and shuts it down


def code_fingerprint() -> str:
    """A hash of the package's source: results computed by different code do not mix silently."""
    import hashlib

    root = Path(__file__).resolve().parents[1]  # the whole package
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


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
            _clear(store)
        return
    if overwrite:
        _clear(store)
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


def _clear(store: Store) -> None:
    for path in (store.manifest, store.runs_table, store.timeseries_table):
        path.unlink(missing_ok=True)
    if store.parts.is_dir():
        for p in store.parts.iterdir():
            if p.is_file():
                p.unlink()


def _execute(scenario: Scenario, store: Store, plan: ExecutorPlan, todo: list[int],
             status: dict[int, str], errors: dict[int, str], manifest: _Manifest,
             bar: _Progress) -> None:
    """Keep at most ``plan.capacity`` runs in flight; record each as it finishes.

    If a worker process dies (killed, out of memory, a crash in compiled code), the pool is
    replaced and the runs that were in flight are rerun one at a time: only a run that kills
    a worker on its own is recorded as failed, the others were bystanders.
    """
    queue = iter(todo)
    requeued: list[int] = []  # not started because the pool broke: submit first
    suspects: list[int] = []  # in flight when a worker died: rerun alone
    in_flight: dict[Future, int] = {}

    def submit(index: int) -> bool:
        try:
            future = plan.executor.submit(run_task, scenario.run_by_index(index))
        except cf.BrokenExecutor as exc:  # a worker died before we heard of it
            requeued.append(index)
            broke(exc)
            return False
        in_flight[future] = index
        return True

    def top_up() -> None:
        while True:
            if suspects:
                if in_flight or not submit(suspects.pop(0)):
                    return
                continue  # loop only to return: one suspect at a time
            if len(in_flight) >= plan.capacity:
                return
            index = requeued.pop(0) if requeued else next(queue, None)
            if index is None:
                return
            submit(index)

    def broke(exc: BaseException) -> None:
        """The pool is dead: what was in flight is suspect; start a new pool."""
        if plan.restart is None:
            raise SweepError(f"the executor stopped working ({type(exc).__name__}: {exc}); finished"
                             " runs are saved, rerun with --resume.", "--scheduler") from None
        suspects.extend(in_flight.values())
        suspects.sort()
        in_flight.clear()
        _shutdown(plan.executor, cancel=True)
        plan.executor = plan.restart()

    def record(index: int, outcome: Outcome) -> None:
        if outcome.status == DONE:
            store.write_part(index, outcome.table)
            status[index] = DONE
            errors.pop(index, None)
        else:
            store.write_failure(index, outcome)
            status[index] = FAILED
            errors[index] = outcome.error or "failed"
        bar.advance(outcome.status == FAILED)

    top_up()
    while in_flight:
        finished, _ = cf.wait(list(in_flight), timeout=1.0, return_when=FIRST_COMPLETED)
        broken: BaseException | None = None
        for future in finished:
            index = in_flight.pop(future)
            try:
                outcome = future.result()
            except cf.BrokenExecutor as exc:  # a worker process died
                broken = exc
                alone = not in_flight and len(finished) == 1
                if alone or plan.restart is None:
                    outcome = Outcome(index, FAILED, error="the worker process running it died"
                                      f" ({type(exc).__name__}: {exc})")
                else:
                    suspects.append(index)
                    continue
            except Exception as exc:  # the executor's failure (e.g. a Dask worker lost)
                outcome = Outcome(index, FAILED, error=f"{type(exc).__name__}: {exc}",
                                  traceback=traceback.format_exc())
            record(index, outcome)
        if broken is not None:
            broke(broken)
        manifest.maybe_write()
        top_up()


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


class _Manifest:
    """manifest.json, rewritten atomically at the start, every few seconds, and at the end."""

    def __init__(self, store: Store, scenario: Scenario, executor: str, status: dict[int, str],
                 errors: dict[int, str]):
        from coprod_sim import __version__

        self.store, self.scenario, self.status, self.errors = store, scenario, status, errors
        self.executor = executor
        self.version = __version__
        self.code = code_fingerprint()
        old = store.read_manifest() or {}
        self.created = old.get("created") or _now()
        self.last = 0.0

    def maybe_write(self) -> None:
        if time.monotonic() - self.last >= MANIFEST_EVERY:
            self.write()

    def write(self) -> None:
        sc = self.scenario
        runs = []
        for p in sc.points():
            for r in range(sc.replications):
                i = p.index * sc.replications + r
                st = self.status[i]
                if st == PENDING and i in self.errors:
                    st = FAILED
                entry = {"run": i, "point": p.index, "policy": p.policy, "design_point": p.design_point,
                         "replication": r, "seed": sc.seed, "spawn_key": [r], "status": st}
                if st == FAILED:
                    entry["error"] = self.errors.get(i) or self.store.read_failure(i)
                runs.append(entry)
        counts = {s: sum(1 for e in runs if e["status"] == s) for s in (DONE, FAILED, PENDING)}
        doc = {
            "format": 1,
            "package": "coprod-sim",
            "version": self.version,
            "created": self.created,
            "updated": _now(),
            "executor": self.executor,
            "code": self.code,
            "seeding": SEEDING,
            "scenario": sc.to_dict(),
            "counts": counts,
            "runs": runs,
        }
        atomic_write_bytes(self.store.manifest, (json.dumps(doc, indent=1) + "\n").encode())
        self.last = time.monotonic()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Progress:
    """A rich progress bar on stderr: runs done, failed, elapsed and time left."""

    def __init__(self, enabled: bool, total: int, already: int):
        self.enabled = enabled
        self.total, self.already = total, already
        self.failed = 0

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(),
                TextColumn("runs, [red]{task.fields[failed]} failed[/]"),
                TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=False)
            self.progress.__enter__()
            self.task = self.progress.add_task("sweep", total=self.total, completed=self.already,
                                               failed=0)
        return self

    def advance(self, failed: bool) -> None:
        self.failed += failed
        if self.enabled:
            self.progress.update(self.task, advance=1, failed=self.failed)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)


# ====================================================================== the tables
def assemble(scenario: Scenario, store: Store, status: dict[int, str] | None = None,
             errors: dict[int, str] | None = None, batch: int = 2000) -> tuple[Path, Path]:
    """Write runs.parquet and timeseries.parquet from the per-run files, in run order.

    Both tables are streamed (a run's time series at a time, ``batch`` rows of the run table
    at a time), so memory does not grow with the number of runs. Each is written to a
    temporary file and renamed: a kill leaves the previous table or the new one, never half.
    """
    done, _ = store.finished()
    errors = errors or {}
    param_keys = scenario.parameter_keys()
    first = next((i for i in range(scenario.n_runs) if i in done), None)
    metrics = ([c for c in store.read_part(first).column_names if c not in LABELS and c != "step"]
               if first is not None else [k for k in OUTCOMES if k != "step"])
    columns = [*LABELS, "seed", "status", "error", *param_keys,
               *[f"{k}_final" for k in metrics], *[f"{k}_last_quarter" for k in metrics]]
    ts_out = _StreamedTable(store.timeseries_table)
    runs_out = _StreamedTable(store.runs_table)
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        if rows:
            runs_out.write(pa.Table.from_pandas(pd.DataFrame(rows, columns=columns), preserve_index=False))
            rows.clear()

    try:
        for p in scenario.points():
            params = _point_values(p, param_keys)
            for r in range(scenario.replications):
                index = p.index * scenario.replications + r
                row: dict[str, Any] = {"run": index, "point": p.index, "policy": p.policy,
                                       "design_point": p.design_point, "replication": r,
                                       "seed": scenario.seed, **params}
                if index in done:
                    table = store.read_part(index)
                    ts = table.to_pandas()
                    summary = summarise(ts[["step", *metrics]])
                    row.update(status=DONE, error="")
                    row.update({f"{k}_final": summary["final"][k] for k in metrics})
                    row.update({f"{k}_last_quarter": summary["last_quarter_mean"][k] for k in metrics})
                    ts_out.write(table)
                else:
                    error = errors.get(index) or (store.read_failure(index)
                                                  if store.failure(index).exists() else "not run")
                    row.update(status=FAILED if error != "not run" else PENDING, error=error)
                rows.append(row)
                if len(rows) >= batch:
                    flush()
        flush()
    except BaseException:
        ts_out.abandon()
        runs_out.abandon()
        raise
    ts_out.commit()
    runs_out.commit()
    return store.runs_table, store.timeseries_table


class _StreamedTable:
    """A Parquet file written piece by piece into a temporary file, renamed when complete."""

    def __init__(self, path: Path):
        self.path = path
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        self.tmp = Path(tmp)
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, table.schema)
        elif table.schema != self.writer.schema:
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)

    def commit(self) -> None:
        if self.writer is None:  # nothing finished: no table
            self.tmp.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)
            return
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


def _point_values(point, keys: list[str]) -> dict[str, Any]:
    from coprod_sim.params import spec

    return {k: point.overrides.get(k, spec(k).default) for k in keys}


# ====================================================================== estimates and benchmarks
_CALIBRATION: float | None = None


def seconds_per_citizen_month() -> float:
    """Measured on this machine: one small run after a warm-up (for time estimates)."""
    global _CALIBRATION
    if _CALIBRATION is None:
        from coprod_sim.params import Parameters

        params = Parameters({"population.n_citizens": 2000, "simulation.steps": 24})
        simulate(params, 0, record_neighbourhoods=False)
        t = time.perf_counter()
        simulate(params, 1, record_neighbourhoods=False)
        _CALIBRATION = (time.perf_counter() - t) / (2000 * 24)
    return _CALIBRATION


def estimate_seconds(scenario: Scenario, workers: int = 1) -> float:
    """Rough wall time of the whole sweep on ``workers`` local processes."""
    per = seconds_per_citizen_month()
    work = 0.0
    for p in scenario.points():
        n = p.overrides.get("population.n_citizens", 1000)
        steps = p.overrides.get("simulation.steps", 120)
        work += per * n * (steps + 10)  # + building the town, about ten months' worth
    work = (work + 0.02 * scenario.n_points) * scenario.replications  # + writing each run
    return work / max(1, min(workers, scenario.n_runs)) + (3.0 if workers > 1 else 1.0)  # + start


def measure_throughput(runs: int = 100, citizens: int = 10_000, steps: int = 120, workers: int = 2,
                       scheduler: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Time a sweep of ``runs`` replications of the default town (the sweep benchmark).

    Everything a real sweep does is counted: starting workers, writing each run, assembling
    the tables. Returns runs, workers, seconds, runs_per_second, citizen_months_per_second.
    """
    from coprod_sim.scenario.loader import load_scenario

    with tempfile.TemporaryDirectory(prefix="coprod-bench-") as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(f'name = "bench"\nseed = 1\nsteps = {steps}\nreplications = {runs}\n'
                        f'[parameters]\n"population.n_citizens" = {citizens}\n')
        scenario = load_scenario(path)
        t = time.perf_counter()
        result = sweep(scenario, Path(tmp) / "out", workers=workers, scheduler=scheduler,
                       progress=progress)
        seconds = time.perf_counter() - t
    return {"runs": runs, "citizens": citizens, "steps": steps, "workers": workers,
            "executor": result.executor, "failed": len(result.failed), "seconds": seconds,
            "runs_per_second": runs / seconds,
            "citizen_months_per_second": runs * citizens * steps / seconds}
