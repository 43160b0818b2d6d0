"""Why a sweep cannot start or did not finish."""

from __future__ import annotations

from pathlib import Path

from coprod_sim.params import ParameterError


class SweepError(ParameterError):
    """A sweep that cannot start as asked (output folder, executor); exit code 2."""

    def __init__(self, message: str, key: str = "--out"):
        super().__init__(key, message)


class SweepInterrupted(Exception):
    """Ctrl-C or a termination signal: finished runs are on disk, ``--resume`` completes the rest."""

    def __init__(self, done: int, total: int, out: Path):
        super().__init__(f"interrupted with {done} of {total} runs done in {out}")
        self.done, self.total, self.out = done, total, out
