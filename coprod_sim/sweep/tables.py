"""The sweep's tables, assembled from the per-run files: runs.parquet and timeseries.parquet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coprod_sim.names import OUTCOMES
from coprod_sim.params import spec
from coprod_sim.run import summarise
from coprod_sim.scenario.plan import Point, Scenario
from coprod_sim.sweep.store import Store, temporary_beside
from coprod_sim.sweep.task import DONE, FAILED, LABELS, PENDING


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
                    row.update(_outcomes(table, metrics))
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


def _outcomes(table: pa.Table, metrics: list[str]) -> dict[str, Any]:
    """A finished run's row entries: each outcome at the end and over the last quarter."""
    summary = summarise(table.to_pandas()[["step", *metrics]])
    row: dict[str, Any] = {"status": DONE, "error": ""}
    row.update({f"{k}_final": summary["final"][k] for k in metrics})
    row.update({f"{k}_last_quarter": summary["last_quarter_mean"][k] for k in metrics})
    return row


class _StreamedTable:
    """A Parquet file written piece by piece into a temporary file, renamed when complete."""

    def __init__(self, path: Path):
        self.path = path
        fd, tmp = temporary_beside(path)
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


def _point_values(point: Point, keys: list[str]) -> dict[str, Any]:
    return {k: point.overrides.get(k, spec(k).default) for k in keys}

