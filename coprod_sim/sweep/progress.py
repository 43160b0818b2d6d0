"""A sweep's progress on stderr: runs done, failed, elapsed and time left.

On a terminal, a live bar; elsewhere (a CI log, ``nohup``, a pipe) plain lines, one every
``PLAIN_EVERY`` seconds and one at the end, which read well in a log file.
"""

from __future__ import annotations

import sys
import time
from typing import Any

PLAIN_EVERY = 10.0  # seconds between plain progress lines


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """``mode``: True (a bar on a terminal, plain lines elsewhere), "bar", "plain" or False."""

    def __init__(self, mode: bool | str, total: int, already: int):
        if mode is True:
            mode = "bar" if sys.stderr.isatty() else "plain"
        self.mode = mode or ""
        self.total, self.already = total, already
        self.done = already
        self.failed = 0
        self.start = time.monotonic()
        self.last = self.start

    def __enter__(self) -> Progress:
        if self.mode == "bar":
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
        elif self.mode == "plain":
            self.line(f"sweep: {self.already} of {self.total} runs already done, starting")
        return self

    def advance(self, failed: bool) -> None:
        self.failed += failed
        self.done += 1
        if self.mode == "bar":
            self.progress.update(self.task, advance=1, failed=self.failed)
        elif self.mode == "plain" and time.monotonic() - self.last >= PLAIN_EVERY:
            self.plain()

    def plain(self) -> None:
        elapsed = time.monotonic() - self.start
        new = self.done - self.already
        left = (self.total - self.done) * elapsed / new if new else float("nan")
        eta = f", about {_clock(left)} left" if left == left else ""
        self.line(f"sweep: {self.done} of {self.total} runs done, {self.failed} failed,"
                  f" {_clock(elapsed)} elapsed{eta}")

    def line(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)
        self.last = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        if self.mode == "bar":
            self.progress.__exit__(*exc)
        elif self.mode == "plain" and exc[0] is None:
            self.plain()
