"""docs/extending.md runs as written, so the tutorial cannot rot.

Its files (fenced blocks with ``file=NAME``) are written into a fresh folder outside the
repository, and its commands (``$ coprod ...`` lines of the tutorial's console blocks) are run
there in order, as a researcher would, with the installed ``coprod``: writing the rule, checking
it, one run, the sweep on two worker processes and its report. ``coprod viz`` serves forever,
so for it the test builds and steps the page's model from the same scenario instead; its
Python block runs too.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from coprod_sim.names import QUINTILE_LABELS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"
COPROD = str(Path(sys.executable).with_name("coprod"))
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def tutorial_text() -> str:
    text = DOC.read_text()
    start = text.index("## Tutorial")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(language, info, body) of each fenced block."""
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer(text)]


def files(text: str) -> dict[str, str]:
    out = {}
    for _, info, body in blocks(text):
        m = re.search(r"file=(\S+)", info)
        if m:
            out[m.group(1)] = body
    return out


def commands(text: str) -> list[str]:
    return [line[2:].strip() for lang, _, body in blocks(text) if lang == "console"
            for line in body.splitlines() if line.startswith("$ ")]


def test_the_tutorial_has_what_it_promises():
    text = tutorial_text()
    assert set(files(text)) == {"crowding.py", "crowding.toml", "crowding_page.toml"}
    steps = [c.split()[c.split().index("coprod") + 1] for c in commands(text)]
    assert steps == ["rules", "run", "validate", "sweep", "report", "viz"]
    assert any("--workers 2" in c for c in commands(text))


@pytest.fixture
def folder(tmp_path) -> Path:
    where = tmp_path / "my_research"
    where.mkdir()
    assert not where.resolve().is_relative_to(ROOT)
    return where


def coprod(args: list[str], cwd: Path, extra: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", **(extra or {})}
    env.pop("PYTHONPATH", None)  # the module must be found because it is in the folder
    return subprocess.run([COPROD, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


PAGE_CHECK = """
import os, sys
os.environ["COPROD_VIZ_SCENARIO"] = os.path.abspath(sys.argv[1])
os.environ["COPROD_VIZ_CITIZENS"] = sys.argv[2]
from coprod_sim.viz import app, session
# what a browser tab's town builds on load and on Reset (viz/session.py Town.reset)
model = session.TownModel(**session.model_kwargs(app.BASE, session.initial_levers(app.BASE)))
for _ in range(4):
    model.step()
rule = model.kernel.rules["participation"]
print(rule.__module__, rule.__name__, model.params["crowding.strength"], model.state.n)
"""


def test_the_tutorial_runs_as_written_outside_the_repository(folder):
    text = tutorial_text()
    for name, body in files(text).items():
        (folder / name).write_text(body)
    outputs = {}
    for command in commands(text):
        args = shlex.split(command)
        extra = dict(a.split("=", 1) for a in args[:args.index("coprod")])  # VAR=value prefixes
        args = args[args.index("coprod"):]
        assert args[0] == "coprod"
        if args[1] == "viz":  # serves until stopped: check the page's model instead
            scenario = args[2]
            citizens = args[args.index("--citizens") + 1]
            page = subprocess.run([sys.executable, "-c", PAGE_CHECK, scenario, citizens], cwd=folder,
                                  capture_output=True, text=True, timeout=600,
                                  env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                                       **extra})
            assert page.returncode == 0, page.stderr
            assert page.stdout.split() == ["crowding", "crowding_out", "2.0", citizens]
            continue
        result = coprod(args[1:], folder, extra)
        assert result.returncode == 0, f"$ {command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr
        outputs[args[1]] = result.stdout
    assert "ok    output" in outputs["rules"] and "FAIL" not in outputs["rules"]
    assert f"SES {QUINTILE_LABELS[0]}" in outputs["run"]  # the summary table's poorest-fifth row
    runs = pd.read_parquet(folder / "out" / "crowding" / "runs.parquet")
    assert (runs["status"] == "done").all() and set(runs["policy"]) == {"baseline", "crowding_out"}
    assert set(runs.loc[runs["policy"] == "crowding_out", "rules.participation"]) == {"crowding_out"}
    report = (folder / "out" / "crowding" / "report.md").read_text()
    assert "crowding_out" in report and "crowding.strength = 2.0" in report.replace("`", "")


def test_the_tutorials_python_block_runs(folder):
    text = tutorial_text()
    (folder / "crowding.py").write_text(files(text)["crowding.py"])
    code = next(body for lang, info, body in blocks(text) if lang == "python" and info == "run")
    code = code.replace('"population.n_citizens": 2000', '"population.n_citizens": 500,'
                        ' "simulation.steps": 24')
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=folder,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert 0.0 <= float(result.stdout.strip()) <= 1.0


def test_the_documented_mistakes_read_as_documented(folder):
    """The error table of docs/extending.md quotes what coprod says."""
    text = tutorial_text()
    (folder / "crowding.py").write_text(files(text)["crowding.py"])
    cases = [
        ("rules.participation=crowdng:crowding_out", "module 'crowdng' not found"),
        ("rules.participation=crowding:crowding", "Did you mean 'crowding_out'?"),
        ("rules.outcome=crowding:crowding_out", "declared with @rule('participation')"),
        ("rules.participation=logistic", "no rule of that name. Rules for this stage:"),
    ]
    doc = DOC.read_text()
    for setting, fragment in cases:
        result = coprod(["run", "--citizens", "200", "--steps", "2", "--set", setting], folder)
        assert result.returncode == 2, result.stdout
        assert fragment in result.stderr and "Traceback" not in result.stderr
        assert fragment in doc


def test_a_scenario_file_never_imports_the_code_it_names(folder):
    """validate names the problem and imports nothing: not the tutorial's module, not the
    standard library's (``this`` prints the Zen of Python when imported)."""
    text = tutorial_text()
    (folder / "crowding.py").write_text(files(text)["crowding.py"] + "\nprint('IMPORTED crowding')\n")
    cases = [("crowding_out", "no rule of that name"),
             ("crowding:crowding_out", "module 'crowding' is not loaded"),
             ("this:s", "module 'this' is not loaded"),
             ("builtins:exec", "'exec' is not registered as a rule")]
    doc = DOC.read_text()
    for value, fragment in cases:
        (folder / "s.toml").write_text(f'[rules]\nparticipation = "{value}"\n')
        result = coprod(["validate", "s.toml"], folder)
        assert result.returncode == 2, result.stdout
        assert fragment in result.stderr and "Traceback" not in result.stderr
        assert "IMPORTED" not in result.stdout and "Zen of Python" not in result.stdout
        assert fragment.split("'")[0] in doc
    loaded = coprod(["validate", "s.toml", "--rules-module", "crowding"], folder)
    assert loaded.returncode == 2 and "'exec' is not registered as a rule" in loaded.stderr
    (folder / "s.toml").write_text('[rules]\nparticipation = "crowding_out"\n')
    loaded = coprod(["validate", "s.toml", "--rules-module", "crowding"], folder)
    assert loaded.returncode == 0, loaded.stderr
    assert "IMPORTED crowding" in loaded.stdout  # the module the user named, and only then
