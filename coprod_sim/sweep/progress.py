"""A sweep's progress on stderr: runs done, failed, elapsed and time left."""

from __future__ import annotations

from typing import Any


class Progress:
    """A rich progress bar on stderr: runs done, failed, elapsed and time left."""

    def __init__(self, enabled: bool, total: int, already: int):
        self.enabled = enabled
        self.total, self.already = total, already
        self.failed = 0

    def __enter__(self) -> Progress:
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


