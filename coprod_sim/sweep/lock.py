"""One process at a time in an output folder: a lock held for the whole sweep (or report).

The lock is ``.coprod.lock`` in the folder, locked with ``fcntl.flock``: the kernel releases
it when its process ends in any way (even ``kill -9``), so a stale lock never blocks anyone;
the file also says who holds it (process id, host, command, since when) for the refusal
message, and a lock file left by a killed process is reported as taken over. The holder
removes the file when it is done (a lock is only held on the file the path still names, so
removing it is safe).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from coprod_sim.sweep.errors import SweepError

LOCK_NAME = ".coprod.lock"


def _holder(path: Path) -> dict:
    try:
        data = json.loads(path.read_text() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return (f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
            f" ({holder.get('what', '?')}, since {holder.get('since', '?')})")


@contextmanager
def folder_lock(folder: Path, what: str, note=None) -> Iterator[None]:
    """Hold the folder's lock while the block runs; SweepError naming the holder if taken.

    ``folder`` must exist. ``note(text)`` is told when a lock left by a dead process is taken over.
    """
    path = Path(folder) / LOCK_NAME
    fd = _acquire(path, folder)
    try:
        old = _holder(path)
        if old and note is not None:
            note(f"Note: took over the lock of {folder} left by {_describe(old)}, which is no"
                 " longer running.")
        me = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
              "command": " ".join(sys.argv[:1] + sys.argv[1:])[:500],
              "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # released cleanly: nothing left for the next holder
    finally:
        os.close(fd)  # closing releases the flock


def _acquire(path: Path, folder: Path) -> int:
    """An open descriptor of the lock file, flock-ed, still the file ``path`` names."""
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SweepError(f"{folder} is in use by {_describe(_holder(path))}: two commands must"
                             " not write one folder at once. Wait for it to finish (or stop it),"
                             " or choose another --out.") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # its holder removed it meanwhile: lock the new one
    raise SweepError(f"{folder}: could not take its lock ({LOCK_NAME} keeps changing).")
