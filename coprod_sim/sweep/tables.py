"""The sweep's tables, assembled from the per-run files: runs.parquet and timeseries.parquet."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coprod_sim.names import OUTCOMES, RENAMED_OUTCOMES
from coprod_sim.params import spec
from coprod_sim.run import summarise
from coprod_sim.scenario.plan import Point, Scenario
from coprod_sim.sweep.store import Store, temporary_beside
from coprod_sim.sweep.task import DONE, FAILED, LABELS, PENDING


def assemble(scenario: Scenario, store: Store, status: dict[int, str] | None = None,
             errors: dict[int, str] | None = None, batch: int = 2000,
             note: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """Write runs.parquet and timeseries.parquet from the per-run files, in run order.

    Both tables are streamed (a run's time series at a time, ``batch`` rows of the run table
    at a time), so memory does not grow with the number of runs. Each is written to a
    temporary file and renamed: a kill leaves the previous table or the new one, never half.
    Runs of an older coprod-sim (resumed with --allow-code-change) may lack outcomes added
    since: they get NaN in those columns, and ``note`` is told which.
    """
    done, _ = store.finished()
    errors = errors or {}
    param_keys = scenario.parameter_keys()
    series, lacking = _series_schema(store, [i for i in range(scenario.n_runs) if i in done])
    metrics = ([c for c in series.names if c not in LABELS and c != "step"] if series is not None
               else [k for k in OUTCOMES if k != "step"])
    if lacking and note is not None:
        note(f"Warning: {len(lacking)} runs (of an older coprod-sim) lack the outcomes"
             f" {', '.join(sorted(set().union(*lacking.values())))}: their rows hold NaN there, in"
             " runs.parquet and timeseries.parquet; the report estimates those measures from the"
             " other runs.")
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
                    table = _current_names(store.read_part(index))
                    if lacking:  # versions mixed: every run's series in the same columns
                        table = _with_columns(table, series)
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


def _series_schema(store: Store, done: list[int]) -> tuple[pa.Schema | None, dict[int, set[str]]]:
    """The time series' columns over every finished run (the current code's order), and the
    runs that lack some of them (made by an older coprod-sim) with what each lacks."""
    schemas = {i: _current_names(store.part_schema(i)) for i in done}
    if not schemas:
        return None, {}
    first = next(iter(schemas.values()))
    if all(s.names == first.names for s in schemas.values()):
        return first, {}  # one version: the table exactly as the runs wrote it
    fields: dict[str, pa.Field] = {}
    for s in schemas.values():
        for f in s:
            fields.setdefault(f.name, f)
    order = [*LABELS, *OUTCOMES]
    names = sorted(fields, key=lambda n: order.index(n) if n in order else len(order))
    schema = pa.schema([fields[n] for n in names])
    lacking = {i: set(names) - set(s.names) for i, s in schemas.items()}
    return schema, {i: gone for i, gone in lacking.items() if gone}


def _current_names(t: pa.Table | pa.Schema) -> pa.Table | pa.Schema:
    """A run's series (or its columns) with outcomes renamed since it was made under their names now."""
    have = t.names if isinstance(t, pa.Schema) else t.column_names
    if not any(old in have and new not in have for old, new in RENAMED_OUTCOMES.items()):
        return t
    names = [RENAMED_OUTCOMES.get(n, n) if RENAMED_OUTCOMES.get(n) not in have else n for n in have]
    if isinstance(t, pa.Schema):
        return pa.schema([f.with_name(n) for f, n in zip(t, names, strict=True)])
    return t.rename_columns(names)


def _with_columns(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A run's time series with every column of ``schema``: those it lacks as nulls (NaN)."""
    return pa.Table.from_arrays([table.column(f.name) if f.name in table.column_names
                                 else pa.nulls(table.num_rows, f.type) for f in schema], schema=schema)


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

