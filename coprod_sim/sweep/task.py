"""One run of a sweep, as a worker executes it: parameters and seed in, time series out.

A worker sends back an :class:`Outcome` whose time series travels as Arrow IPC bytes made in
the worker, so that the parent, which serves every worker, only writes them to disk.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from coprod_sim.rules.sources import import_trusted
from coprod_sim.run import neighbourhood_participation
from coprod_sim.run import run as simulate
from coprod_sim.scenario.plan import Run

LABELS = ("run", "point", "policy", "design_point", "replication")
"""Columns that identify a run in both tables."""

DONE, FAILED, PENDING = "done", "failed", "pending"


@dataclass
class Outcome:
    """What a worker sends back: the time series of a finished run, or the error of a failed one."""

    index: int
    status: str
    table: bytes | None = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    hoods: bytes | None = None  # a town from a table: participation per neighbourhood (Arrow IPC)

    @property
    def timeseries(self) -> pd.DataFrame | None:
        return None if self.table is None else read_ipc(self.table).to_pandas()


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_ipc(data: bytes | pa.Buffer) -> pa.Table:
    return pa.ipc.open_file(pa.BufferReader(data)).read_all()


def run_task(run: Run) -> Outcome:
    """Execute one run (in a worker). Never raises: an error becomes a failed Outcome."""
    start = time.perf_counter()
    try:
        import_trusted(run.rule_modules)  # a worker process: the custom rules the parent loaded
        # a town from a table: its neighbourhoods are real places, kept for the report's maps
        per_hood = bool(run.params.town.table)
        result = simulate(run.params, run.seed, replication=run.replication,
                          record_neighbourhoods=per_hood)
        hoods = neighbourhood_table(result) if per_hood else None
        ts = result.timeseries
        for i, name in enumerate(LABELS):
            value = {"run": run.index, "point": run.point, "policy": run.policy,
                     "design_point": run.design_point, "replication": run.replication}[name]
            ts.insert(i, name, value)
        table = to_ipc(pa.Table.from_pandas(ts, preserve_index=False))
        return Outcome(run.index, DONE, table, seconds=time.perf_counter() - start, hoods=hoods)
    except BaseException as exc:  # the run's own failure, recorded; the sweep goes on
        # SystemExit or KeyboardInterrupt raised by a rule are that run's failure too: a worker
        # ignores Ctrl+C (the sweep's process handles it), so neither comes from the user here.
        return Outcome(run.index, FAILED, error=failure_text(exc),
                       traceback=traceback.format_exc(), seconds=time.perf_counter() - start)


def neighbourhood_table(result) -> bytes:
    """Participation per neighbourhood over the run's last quarter, as Arrow IPC bytes."""
    rate = neighbourhood_participation(result.neighbourhoods, result.params.simulation.steps)
    return to_ipc(pa.table({"neighbourhood": np.arange(len(rate)), "participation_year": rate}))


def failure_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
