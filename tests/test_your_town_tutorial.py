"""docs/your-town.md runs as written: its files, its commands, its error message."""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest

from coprod_sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "your-town.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text()) if lang == kind]


def files() -> dict[str, str]:
    """Code blocks whose first line is '# path': the files the reader writes."""
    out = {}
    for lang in ("csv", "toml"):
        for body in blocks(lang):
            first, _, rest = body.partition("\n")
            if first.startswith("# ") and "/" in first:
                out[first[2:].strip()] = rest
    return out


def commands() -> list[list[str]]:
    return [shlex.split(line[2:]) for body in blocks("console") for line in body.splitlines()
            if line.startswith("$ coprod ")]


@pytest.fixture
def reader(tmp_path, monkeypatch):
    """A folder with the page's files and the repository's Georgia example."""
    for name, text in files().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "scenarios").mkdir()
    shutil.copy(ROOT / "scenarios" / "georgia.toml", tmp_path / "scenarios")
    shutil.copytree(ROOT / "scenarios" / "data" / "georgia", tmp_path / "scenarios" / "data" / "georgia")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_page_has_its_files_and_commands():
    assert set(files()) == {"riverton/data/neighbourhoods.csv", "riverton/riverton.toml"}
    assert [c[1] for c in commands()] == ["run", "sweep", "report", "run", "calibrate", "sweep", "report",
                                          "calibrate"]


def test_every_command_of_the_page_runs(reader):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    runner = CliRunner()
    for args in commands():
        result = runner.invoke(app, args[1:])
        assert result.exit_code == 0, (args, result.output)
    assert (reader / "out" / "riverton" / "report.html").is_file()
    assert (reader / "out" / "georgia-run" / "maps.png").is_file()
    assert (reader / "out" / "riverton-fit" / "fit.png").is_file()
    assert (reader / "out" / "riverton-fitted" / "report.md").is_file()
    fitted = tomllib.loads((reader / "out" / "georgia-fit" / "calibrated.toml").read_text())
    assert fitted["parameters"]["population.n_citizens"] == 5000 and "scale" not in fitted["town"]
    assert load_scenario(reader / "out" / "georgia-fit" / "calibrated.toml").base["simulation.steps"] == 60


def test_the_error_message_shown_is_the_one_given(reader):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    table = reader / "riverton" / "data" / "neighbourhoods.csv"
    text = table.read_text().replace("N3,Marsh End,5000,", "N3,Marsh End,many,")
    table.write_text(text.replace("N5,Low Fields,3000,18000,0,", "N5,Low Fields,3000,18000,sometimes,"))
    result = CliRunner().invoke(app, ["run", "riverton/riverton.toml"])
    assert result.exit_code == 2
    shown = [line for line in blocks("text")[0].splitlines() if line.startswith("  - ")]
    said = " ".join(result.output.split())
    for line in shown:
        assert " ".join(line.split()) in said
