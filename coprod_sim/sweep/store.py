"""A sweep's folder: one file per finished or failed run, written atomically.

    manifest.json        scenario, package version, seeds, status of every run
    runs/NNNNNNN.arrow   one finished run's time series, Arrow IPC (written atomically: temp + rename)
    runs/NNNNNNN.failed.json  a run that failed: its error and traceback
    runs.parquet         one row per run: parameters, labels, seed, outcomes (end, last quarter)
    timeseries.parquet   one row per run and month: the aggregated outcomes
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from coprod_sim.sweep.errors import SweepError
from coprod_sim.sweep.task import Outcome, read_ipc

OWN_FILE = re.compile(r"^\d{7}\.(arrow|failed\.json|hoods)$")
"""A run's file in runs/: what --overwrite removes there (a user's own files stay)."""

def file_mode() -> int:
    """The mode a new file gets under the user's umask (temporary files are created 0600)."""
    umask = os.umask(0o022)  # reading the umask means setting it: set it straight back
    os.umask(umask)
    return 0o666 & ~umask


def temporary_beside(path: Path) -> tuple[int, str]:
    """A temporary file in ``path``'s folder, with the mode the finished file will have."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, file_mode())
    return fd, tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` then rename: readers never see half a file."""
    fd, tmp = temporary_beside(path)
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

    def hoods(self, index: int) -> Path:
        """A town from a table: the run's participation per neighbourhood (not a part: '.hoods')."""
        return self.parts / f"{index:07d}.hoods"

    def write_hoods(self, index: int, table: bytes) -> None:
        atomic_write_bytes(self.hoods(index), table)

    def read_hoods(self, index: int) -> pa.Table | None:
        path = self.hoods(index)
        return read_ipc(pa.memory_map(str(path)).read_buffer()) if path.is_file() else None

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

    def part_schema(self, index: int) -> pa.Schema:
        """A finished run's columns, read from its file's footer (not its data)."""
        return pa.ipc.open_file(pa.memory_map(str(self.part(index)))).schema

    def read_part(self, index: int) -> pa.Table:
        return read_ipc(pa.memory_map(str(self.part(index))).read_buffer())

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
        """The manifest, None if there is none; SweepError (exit 2) if it is damaged."""
        try:
            doc = json.loads(self.manifest.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SweepError(f"{self.manifest} cannot be read ({exc}); this folder does not hold a"
                             " usable sweep: choose another --out, or --overwrite.") from None
        scenario = doc.get("scenario") if isinstance(doc, dict) else None
        if not isinstance(scenario, dict) or not isinstance(doc.get("runs", []), list):
            raise SweepError(f"{self.manifest} is damaged (no scenario table): this folder does not"
                             " hold a usable sweep: choose another --out, or --overwrite.")
        return doc

    def clear(self) -> None:
        """Remove the sweep's own files (--overwrite); a user's other files stay."""
        for path in (self.manifest, self.runs_table, self.timeseries_table):
            path.unlink(missing_ok=True)
        if self.parts.is_dir():
            for p in self.parts.iterdir():
                if OWN_FILE.match(p.name) and p.is_file():
                    p.unlink()
