"""The `coprod` command line as a user runs it: in a subprocess, at 80 columns, piped."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

COPROD = [str(Path(sys.executable).with_name("coprod"))]


def coprod(*args, **kw):
    return subprocess.run([*COPROD, *args], capture_output=True, text=True, timeout=300, **kw)


def test_run_prints_summary_and_writes_outputs(tmp_path):
    out = tmp_path / "out"
    r = coprod("run", "--citizens", "500", "--steps", "30", "--seed", "3",
               "--set", "policy.outreach=universal", "--out", str(out))
    assert r.returncode == 0, r.stderr
    for fragment in ("SES Q1 (poorest)", "SES Q5 (richest)", "concentration index",
                     "individual mode", "collective mode", "self-efficacy, participants"):
        assert fragment in r.stdout
    for name in ("timeseries.parquet", "timeseries.csv", "neighbourhoods.parquet", "summary.json", "run.png"):
        assert (out / name).stat().st_size > 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 31
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["parameters"]["policy.outreach"] == "universal"
    assert (out / "run.png").read_bytes()[:4] == b"\x89PNG"


def test_run_summary_shows_levels_by_mode_and_who_accepts_seats():
    r = coprod("run", "--citizens", "800", "--steps", "24", "--seed", "2",
               "--set", "policy.codesign_seats=20", "--set", "policy.seat_selection=sortition")
    assert r.returncode == 0, r.stderr
    for fragment in ("Levels of involvement", "By mode and level", "initiator",
                     "Designer and initiator episodes", "Co-design seats held",
                     "Of those asked for a seat, accepted", "Area bias by level",
                     "top/bottom ratio, concentration index"):
        assert fragment in r.stdout


@pytest.mark.parametrize(
    ("args", "key", "fragment"),
    [
        (["--set", "citizens.efficacy_weight=99"], "citizens.efficacy_weight", "[0, 20]"),
        (["--set", "citizens.efficasy_weight=1"], "citizens.efficasy_weight", "Did you mean"),
        (["--set", "policy.outreach=everybody"], "policy.outreach", "'universal'"),
        (["--set", "policy.outreach"], "policy.outreach", "dotted.key=value"),
        (["--citizens", "0"], "population.n_citizens", "[10,"),
        (["--set", "rules.participation=no_such_rule"], "participation", "logistic_choice"),
    ],
)
def test_bad_input_exits_2_with_one_paragraph_naming_the_key(args, key, fragment):
    r = coprod("run", "--steps", "2", *args)
    assert r.returncode == 2
    assert key in r.stderr and fragment in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_help_for_run():
    r = coprod("run", "--help")
    assert r.returncode == 0 and "--set" in r.stdout and "--out" in r.stdout


def test_version():
    from coprod_sim import __version__

    r = coprod("--version")
    assert r.returncode == 0 and r.stdout.strip() == __version__ != "0.0.0+unknown"


# ---------------------------------------------------------------------- help, params, options, Ctrl+C
NARROW = {"COLUMNS": "80"}


def _commands() -> list[list[str]]:
    """Every command and subcommand of ``coprod``, as argument lists."""
    import typer.main

    from coprod_sim.cli.app import build

    group = typer.main.get_command(build())
    found = []
    for name, cmd in group.commands.items():
        found.append([name])
        for sub in getattr(cmd, "commands", {}):
            found.append([name, sub])
    return found


def test_help_of_every_command_is_plain_fits_80_columns_and_shows_flags_as_flags():
    from typer.testing import CliRunner

    from coprod_sim.cli.app import build

    runner = CliRunner(env=NARROW)  # output captured: as when piped
    app = build()
    commands = _commands()
    assert len(commands) >= 8
    for args in [[], *commands]:
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        text = result.output
        assert "Usage: coprod" in text and "<bool>" not in text, (args, text)
        assert not set("╭│╰━┃") & set(text), (args, "box drawing in piped help")
        long = [line for line in text.splitlines() if len(line) > 80]
        assert long == [], (args, long)
    sweep_help = runner.invoke(app, ["sweep", "--help"]).output
    assert "--resume " in sweep_help and "--progress / --no-progress" in sweep_help


def _flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("columns", ["80", "40"])
def test_params_text_is_toml_with_every_key_and_default_and_never_breaks_a_key(columns):
    import tomllib

    from coprod_sim.params import TREE, defaults

    r = coprod("params", env={**os.environ, "COLUMNS": columns})
    assert r.returncode == 0, r.stderr
    values = _flatten(tomllib.loads(r.stdout))
    assert values == defaults()
    for line in r.stdout.splitlines():
        if line.lstrip().startswith("#"):
            words = line.lstrip(" #").split()
            # prose wraps between words; a word longer than the width stays whole
            assert len(line) <= int(columns) or len(words) == 1, line
    assert [line.split(" = ")[0] for line in r.stdout.splitlines()
            if " = " in line and not line.startswith(("#", " "))] == [
        f"{g}.{n}" for g in TREE for n in TREE[g]]


def test_params_csv_and_json_hold_the_same_rows_as_the_tree():
    import csv
    import io

    from coprod_sim.params import describe

    rows = describe()
    as_csv = list(csv.DictReader(io.StringIO(coprod("params", "--format", "csv").stdout)))
    as_json = json.loads(coprod("params", "-f", "json", "citizens").stdout)
    assert [r["key"] for r in as_csv] == [r["key"] for r in rows]
    assert all(c["description"] == r["description"] and c["allowed"] == r["allowed"]
               for c, r in zip(as_csv, rows, strict=True))
    assert [r["key"] for r in as_json] == [r["key"] for r in rows if r["key"].startswith("citizens.")]
    assert all(j["default"] == r["default"] for j, r in
               zip(as_json, [r for r in rows if r["key"].startswith("citizens.")], strict=True))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--point", "-1"], "--point -1"),
        (["run", "--replication", "-2", "--steps", "2"], "--replication -2"),
        (["run", "--steps", "0"], "simulation.steps"),
        (["run", "--citizens", "-5"], "population.n_citizens"),
        (["viz", "--citizens", "0"], "--citizens 0"),
        (["viz", "--port", "0"], "--port 0"),
        (["viz", "--port", "70000"], "--port 70000"),
        (["params", "nosuch"], "nosuch"),
        (["params", "--format", "xml"], "--format"),
        (["rules", "check", "logistic_choice", "--examples", "0"], "--examples"),
        (["validate", "scenarios/baseline.toml", "--workers", "-5"], "--workers -5"),
        (["sweep", "scenarios/baseline.toml", "--workers", "0"], "--workers 0"),
        (["explain", "--workers", "-1"], "--workers -1"),
        (["optimise", "scenarios/optimise_budget.toml", "--workers", "0"], "--workers 0"),
        (["facts", "--workers", "0"], "--workers 0"),
        (["facts", "--replications", "0"], "--replications 0"),
        (["facts", "--citizens", "0"], "population.n_citizens"),
        (["calibrate-defaults", "--replications", "0"], "--replications 0"),
        (["calibrate-defaults", "--scenario", "scenarios/baseline.toml"], "needs a sampled design"),
        (["calibrate-defaults", "--accept", "1.5"], "--accept 1.5"),
    ],
)
def test_impossible_option_values_exit_2_with_a_message_and_write_nothing(args, fragment, tmp_path):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import build

    root = Path(__file__).resolve().parents[1]
    args = [str(root / a) if a.endswith(".toml") else a for a in args]
    if args[0] in ("sweep", "explain", "optimise", "facts", "calibrate-defaults"):
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner(env=NARROW).invoke(build(), args)
    assert result.exit_code == 2, (args, result.output)
    assert fragment in " ".join(result.output.split()), (args, result.output)
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def ctrl_c_as_in_a_terminal() -> None:
    """In the child: Ctrl+C does what it does in a terminal, even when these tests were started
    from a background shell job, whose children inherit SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(args: list[str], ready: str | None, delay: float) -> subprocess.CompletedProcess:
    """Start ``coprod ARGS``, wait for the line ``ready`` (or ``delay`` s), press Ctrl+C."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **NARROW}
    proc = subprocess.Popen([*COPROD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=ctrl_c_as_in_a_terminal)
    seen = ""
    if ready is not None:
        while ready not in seen:
            line = proc.stdout.readline()
            assert line, f"coprod {' '.join(args)} ended before printing {ready!r}: {seen}"
            seen += line
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, seen + out, err)


@pytest.mark.parametrize(
    ("args", "ready", "delay"),
    [
        (["run", "--citizens", "50000", "--steps", "5000"], None, 4.0),  # importing or simulating
        (["viz", "--citizens", "300"], "Ctrl+C stops", 0.5),  # while the page's server starts
    ],
)
def test_ctrl_c_exits_130_with_a_message_and_no_traceback(args, ready, delay):
    if args[0] == "viz":
        from coprod_sim.viz.server import port_is_free

        port = next(p for p in range(8790, 8890) if port_is_free("127.0.0.1", p))
        args = [*args, "--port", str(port)]
    r = _interrupt(args, ready, delay)
    assert r.returncode == 130, (r.stdout, r.stderr)
    assert r.stderr.count("Interrupted") == 1 and "Traceback" not in r.stderr + r.stdout, r.stderr


def test_ctrl_c_disguised_as_numbas_system_error_still_exits_130(capsys):
    # Ctrl+C while Numba loads a cached function surfaces as a SystemError whose context is
    # the KeyboardInterrupt (seen in CI); it must read as an interruption, not a crash.
    import typer

    from coprod_sim.cli.errors import caused_by_ctrl_c, user_errors

    def loads_cache():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("CPUDispatcher(...) returned a result with an exception set")  # noqa: B904 (implicit context, as in Numba)

    with pytest.raises(typer.Exit) as stopped:
        user_errors(loads_cache)()
    assert stopped.value.exit_code == 130 and "Interrupted" in capsys.readouterr().err

    def real_bug():
        raise SystemError("a genuine internal error")

    assert not caused_by_ctrl_c(SystemError("x"))
    with pytest.raises(SystemError, match="genuine"):
        user_errors(real_bug)()


def test_params_table_at_80_columns_keeps_every_key_whole_and_fits():
    from coprod_sim.params import iter_keys

    r = coprod("params", "--format", "table", env={**os.environ, "COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    assert all(len(line) <= 80 for line in r.stdout.splitlines())
    assert all(key in r.stdout for key in iter_keys())


def test_the_command_line_imports_no_heavy_library_until_a_command_needs_it():
    """``coprod --help`` stays fast because building the app imports none of these."""
    code = ("import sys\nfrom coprod_sim.cli.app import build\nbuild()\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.replace("'", '"')))
    heavy = {"numpy", "pandas", "pyarrow", "scipy", "numba", "mesa", "solara", "matplotlib", "dask",
             "networkx", "optuna", "SALib"}
    assert loaded & heavy == set()
