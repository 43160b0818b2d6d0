"""Mistakes in a scenario file: collected while loading, reported together (exit code 2)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coprod_sim.params import ParameterError


class ScenarioError(ParameterError):
    """One or more mistakes in a scenario file; the message names the file and each key."""

    def __init__(self, path: str | Path, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = list(problems)
        if len(problems) == 1:
            text = f"{path}: {problems[0][1]}"
        else:
            lines = "\n".join(f"  - {msg}" for _, msg in problems)
            text = f"{path}: {len(problems)} problems:\n{lines}"
        super().__init__(problems[0][0] if problems else "", text)


class Problems:
    """The mistakes found so far in one file: every check adds to it, ``check`` raises them all,
    so that one round of fixes suffices."""

    def __init__(self, path: Path):
        self.path = path
        self.items: list[tuple[str, str]] = []

    def fail(self, key: str, message: str) -> None:
        self.items.append((key, message))

    def check(self) -> None:
        if self.items:
            raise ScenarioError(self.path, self.items)

    def __len__(self) -> int:
        return len(self.items)

    def integer(self, table: Mapping[str, Any], section: str, key: str, default: int, low: int,
                high: int) -> int:
        """``table[key]`` (or ``default``) if an integer in [low, high]; else a problem, and ``default``."""
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(f"{section}.{key}", f"[{section}] {key} = {value!r}: allowed an integer in"
                                          f" [{low}, {high}].")
            return default
        return value


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
