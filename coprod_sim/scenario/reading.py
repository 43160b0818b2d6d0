"""Reading a scenario file's TOML with bounds: size, text encoding, nesting depth.

A scenario is a small text file (a few kilobytes); the bounds keep a wrong path
(``/dev/zero``, a data file) or a hostile file from using the machine's memory or the
parser's recursion before a clear message can be given.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from coprod_sim.scenario.errors import ScenarioError

MAX_FILE_BYTES = 1 << 20
"""Largest scenario file read (1 MiB); the library's largest is a few kilobytes."""

MAX_DEPTH = 12
"""Deepest nesting of tables and arrays; a scenario needs about five levels."""


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML document, or ScenarioError naming the file and what is wrong with it."""
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [toml_problem(text, str(exc))]) from None
    except RecursionError:
        raise ScenarioError(path, [("file", _too_deep())]) from None
    if _depth(data) > MAX_DEPTH:
        raise ScenarioError(path, [("file", _too_deep())])
    return data


def _too_deep() -> str:
    return (f"tables or arrays are nested too deeply (more than {MAX_DEPTH} levels): a scenario"
            " needs only [group] tables, lists of values and { low = .., high = .. } ranges.")


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(path, [("file", "no such scenario file.")]) from None
    except IsADirectoryError:
        raise ScenarioError(path, [("file", "is a folder, not a scenario file (.toml).")]) from None
    except OSError as exc:
        raise ScenarioError(path, [("file", f"cannot be read: {exc.strerror or exc}.")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(path, [("file", f"is larger than {MAX_FILE_BYTES // 1024} KiB: a scenario"
                                            " file is a short TOML text (a few kilobytes).")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, [("file", f"is not UTF-8 text (byte {exc.start}): a scenario is"
                                            " a TOML text file.")]) from None
    if "\x00" in text:
        raise ScenarioError(path, [("file", "holds a NUL byte: a scenario is a TOML text file.")])
    return text


def _depth(data: Any) -> int:
    """Nesting depth of tables and arrays, walked without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def toml_problem(text: str, message: str) -> tuple[str, str]:
    """A TOML syntax error as (key, message), naming the line and, if we can, the key."""
    m = re.search(r"at line (\d+), column (\d+)", message)
    if not m:
        return "file", f"is not valid TOML: {message}."
    lineno = int(m.group(1))
    lines = text.splitlines()
    line = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    key = line.split("=", 1)[0].strip() if "=" in line else line.strip()
    key = key or f"line {lineno}"
    if "Cannot overwrite" in message or "Cannot declare" in message or "twice" in message:
        return key, (f"line {lineno}: {key!r} is given twice. Every key, policy name and table"
                     " may appear once; give each policy its own name under [policies.NAME].")
    detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
    return key, (f"line {lineno}: not valid TOML ({detail}) in {line!r}. Values look like"
                 " key = 0.5, key = \"text\", key = [1, 2], key = { low = 0, high = 1 }.")
