"""Sweeps: same tables whatever the executor, kill-and-resume, failures isolated, reproduction."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from coprod_sim.names import OUTCOMES
from coprod_sim.rules.registry import use_modules
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.sweep.engine import sweep
from coprod_sim.sweep.store import Store

COPROD = [sys.executable, "-m", "coprod_sim.cli.app"]

SCENARIO = """\
name = "small_sweep"
description = "A small sweep for the tests."
steps = 16
replications = 4
seed = 77

[parameters]
population.n_citizens = 250
population.n_neighbourhoods = 4

[sweep]
design = "grid"
"administration.staff_incentives" = [0.1, 0.6]
"administration.risk_aversion" = [0.3, 0.7]

[policies.universal]
"policy.outreach" = "universal"
"""  # 2 policies x 4 design points x 4 replications = 32 runs


def tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(out / "runs.parquet"), pd.read_parquet(out / "timeseries.parquet")


def assert_same_tables(a: Path, b: Path) -> None:
    ra, ta = tables(a)
    rb, tb = tables(b)
    pd.testing.assert_frame_equal(ra, rb, check_exact=True)
    pd.testing.assert_frame_equal(ta, tb, check_exact=True)


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small_sweep.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def reference(scenario_file, tmp_path_factory) -> Path:
    """The uninterrupted sweep, on one worker (in this process)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    result = sweep(load_scenario(scenario_file), out, workers=1, progress=False)
    assert result.ok and result.done == 32
    return out


# ====================================================================== the outputs
def test_outputs_hold_one_row_per_run_and_per_month(reference, scenario_file):
    sc = load_scenario(scenario_file)
    runs, ts = tables(reference)
    assert len(runs) == sc.n_runs and runs["run"].tolist() == list(range(sc.n_runs))
    assert (runs["status"] == "done").all()
    for col in ("point", "policy", "design_point", "replication", "seed", "policy.outreach",
                "administration.staff_incentives", "administration.risk_aversion",
                "population.n_citizens", "participation_year_final", "participation_year_last_quarter",
                "concentration_index_last_quarter", "participation_q1_last_quarter"):
        assert col in runs, col
    assert (runs["seed"] == 77).all()
    # every outcome the model records, at the end and over the last quarter
    for name in OUTCOMES:
        if name != "step":
            assert f"{name}_final" in runs and f"{name}_last_quarter" in runs
    assert len(ts) == sc.n_runs * (sc.steps + 1)
    assert ts.groupby("run")["step"].agg(["min", "max"]).eq([0, sc.steps]).all().all()
    # the summary columns are the time series' last month and last-quarter mean
    last = ts[ts["step"] == sc.steps].set_index("run")["participation_year"]
    assert (runs.set_index("run")["participation_year_final"] == last).all()
    tail = ts[ts["step"] > sc.steps - 4].groupby("run")["participation_year"].mean()
    pd.testing.assert_series_equal(runs.set_index("run")["participation_year_last_quarter"], tail,
                                   check_names=False, rtol=1e-12)
    # policies are compared on the same draws: their month-0 towns are identical
    month0 = ts[ts["step"] == 0].set_index(["design_point", "replication", "policy"])["efficacy_mean"]
    assert month0.unstack("policy").nunique(axis=1).eq(1).all()


def test_tables_are_the_same_however_they_are_streamed(reference, scenario_file, tmp_path):
    """The run table is written a batch of rows at a time; the batch size changes nothing."""
    import shutil

    from coprod_sim.sweep.tables import assemble

    copy = tmp_path / "copy"
    shutil.copytree(reference, copy)
    assemble(load_scenario(scenario_file), Store(copy), batch=3)
    assert pq_row_groups(copy / "runs.parquet") == 11  # 32 rows, 3 a group
    assert_same_tables(reference, copy)


def pq_row_groups(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).num_row_groups


def test_manifest_records_scenario_version_seeds_and_status(reference):
    from coprod_sim import __version__

    m = json.loads((reference / "manifest.json").read_text())
    assert m["version"] == __version__ and m["scenario"]["name"] == "small_sweep"
    assert m["counts"] == {"done": 32, "failed": 0, "pending": 0}
    assert len(m["runs"]) == 32
    r = m["runs"][5]
    assert r["seed"] == 77 and r["spawn_key"] == [r["replication"]] and r["status"] == "done"
    assert "SeedSequence" in m["seeding"]


# ====================================================================== executors
def test_same_tables_with_two_worker_processes(reference, scenario_file, tmp_path):
    result = sweep(load_scenario(scenario_file), tmp_path / "two", workers=2, progress=False)
    assert result.ok and "2 local worker processes" in result.executor
    assert_same_tables(reference, tmp_path / "two")


def test_same_tables_on_a_dask_cluster(reference, scenario_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = sweep(load_scenario(scenario_file), tmp_path / "dask",
                       scheduler=cluster.scheduler_address, progress=False)
    assert result.ok and "Dask" in result.executor
    assert_same_tables(reference, tmp_path / "dask")


def test_any_executor_with_bounded_runs_in_flight(reference, scenario_file, tmp_path):
    """A concurrent.futures executor of the caller's; never more than max_in_flight at once."""
    outstanding, peak, lock = 0, 0, threading.Lock()

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            nonlocal outstanding, peak
            with lock:
                outstanding += 1
                peak = max(peak, outstanding)
            future = super().submit(fn, *args, **kwargs)

            def done(_):
                nonlocal outstanding
                with lock:
                    outstanding -= 1

            future.add_done_callback(done)
            return future

    with Counting(max_workers=2) as pool:
        result = sweep(load_scenario(scenario_file), tmp_path / "pool", executor=pool, max_in_flight=3,
                       progress=False)
    assert result.ok and 1 <= peak <= 3
    assert_same_tables(reference, tmp_path / "pool")


# ====================================================================== interruptions
def ctrl_c_as_in_a_terminal() -> None:
    """In the child: Ctrl+C does what it does in a terminal, even when these tests were started
    from a background shell job, whose children inherit SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(scenario_file: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*COPROD, "sweep", str(scenario_file), "--out", str(out), "--workers", "2",
                             "--no-progress", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=ctrl_c_as_in_a_terminal)


def wait_for_parts(out: Path, count: int, proc: subprocess.Popen, timeout: float = 240) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        n = len(Store(out).finished()[0])
        if n >= count or proc.poll() is not None:
            return n
        time.sleep(0.02)
    raise AssertionError(f"no {count} runs finished within {timeout} s")


def test_killed_at_random_moments_then_resumed_gives_the_same_tables(reference, scenario_file, tmp_path):
    """kill -9 of the sweep's process (twice, at random points), then --resume, equals one go."""
    out = tmp_path / "killed"
    rng = random.Random(20240611)
    finished_before = 0
    for _ in range(2):
        proc = start(scenario_file, out, "--resume")
        target = finished_before + rng.randint(1, 8)
        wait_for_parts(out, target, proc)
        proc.kill()  # SIGKILL: no handler runs, whatever was being written stays half-written
        proc.communicate(timeout=60)
        finished_before = len(Store(out).finished()[0])
        assert finished_before < 32, "the sweep ended before the kill; make it longer"
    proc = start(scenario_file, out, "--resume")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"({finished_before} were already done)" in " ".join(stdout.split())
    assert_same_tables(reference, out)
    assert not list(out.rglob("*.tmp"))


def test_ctrl_c_saves_finished_runs_exits_130_and_resume_completes(reference, scenario_file, tmp_path):
    out = tmp_path / "interrupted"
    proc = start(scenario_file, out)
    wait_for_parts(out, 3, proc)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["done"] == len(Store(out).finished()[0]) >= 3
    # without --resume the folder is protected
    again = subprocess.run([*COPROD, "sweep", str(scenario_file), "--out", str(out), "--no-progress"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "--resume" in again.stderr
    result = sweep(load_scenario(scenario_file), out, workers=1, resume=True, progress=False)
    assert result.ok and result.resumed >= 3
    assert_same_tables(reference, out)


def test_resume_refuses_a_changed_scenario_and_overwrite_starts_again(reference, scenario_file, tmp_path):
    out = tmp_path / "changed"
    sweep(load_scenario(scenario_file), out, workers=1, progress=False)
    changed = tmp_path / "changed.toml"
    changed.write_text(SCENARIO.replace("seed = 77", "seed = 78"))
    proc = subprocess.run([*COPROD, "sweep", str(changed), "--out", str(out), "--resume", "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "different plan" in proc.stderr
    result = sweep(load_scenario(changed), out, workers=1, overwrite=True, progress=False)
    assert result.ok and result.resumed == 0
    assert (pd.read_parquet(out / "runs.parquet")["seed"] == 78).all()


# ====================================================================== failures
RULES = '''
import os

import numpy as np

from coprod_sim.rules import rule


@rule("outcome")
def explode(state, params):
    """Raises: a bug in a researcher's rule."""
    raise RuntimeError("boom in a custom rule")


@rule("outcome")
def die(state, params):
    """Kills its worker process: a crash in compiled code, or the out-of-memory killer."""
    os._exit(3)


@rule("outcome")
def steady(state, params):
    """Every episode succeeds with probability 0.6."""
    return np.full(state.n, 0.6)
'''


def failing_scenario(tmp_path: Path, rule: str, replications: int) -> Path:
    (tmp_path / "flaky_rules.py").write_text(RULES)
    path = tmp_path / "failing.toml"
    path.write_text(SCENARIO.replace("replications = 4", f"replications = {replications}")
                    .replace("[sweep]", "[policies.broken]\n"
                                     f'"rules.outcome" = "flaky_rules:{rule}"\n\n[sweep]', 1)
                    .replace('"policy.outreach" = "universal"', '"policy.outreach" = "universal"\n'
                             '"rules.outcome" = "flaky_rules:steady"'))
    return path


@pytest.mark.parametrize(("rule", "replications"), [("explode", 2), ("die", 1)])
def test_a_failing_run_is_recorded_and_the_others_go_on(reference, tmp_path, rule, replications,
                                                        monkeypatch):
    path = failing_scenario(tmp_path, rule, replications)
    monkeypatch.syspath_prepend(str(tmp_path))  # so that this process can load the scenario too
    use_modules(["flaky_rules"])
    out = tmp_path / "out"
    proc = subprocess.run([*COPROD, "sweep", str(path), "--out", str(out), "--workers", "2",
                           "--no-progress", "--rules-module", "flaky_rules"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    sc = load_scenario(path)
    broken = {r.index for r in sc.runs() if r.policy == "broken"}
    assert len(broken) == 4 * replications and sc.n_runs == 3 * len(broken)
    assert f"{len(broken)} run(s) failed" in proc.stderr
    for index in sorted(broken)[:5]:
        assert f"run {index}:" in proc.stderr
    expected = "boom in a custom rule" if rule == "explode" else "worker process running it died"
    runs = pd.read_parquet(out / "runs.parquet")
    failed = runs[runs["status"] == "failed"]
    assert set(failed["run"]) == broken
    assert failed["error"].str.contains(expected).all()
    assert failed["participation_year_final"].isna().all()
    assert (runs[runs["status"] == "done"]["participation_year_final"].notna()).all()
    for index in broken:
        assert Store(out).failure(index).exists()
    # the baseline's runs are exactly those of the clean sweep: nothing leaked between runs
    ref = pd.read_parquet(reference / "runs.parquet")
    cols = [c for c in ref.columns if c.endswith("_last_quarter")]
    mine = runs[runs["policy"] == "baseline"].set_index(["design_point", "replication"])[cols]
    theirs = ref[(ref["policy"] == "baseline") & (ref["replication"] < replications)
                 ].set_index(["design_point", "replication"])[cols]
    pd.testing.assert_frame_equal(mine, theirs, check_exact=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"done": 2 * len(broken), "failed": len(broken), "pending": 0}
    assert all(expected in r["error"] for r in manifest["runs"] if r["status"] == "failed")
    # the report still reads what finished, and says what did not
    from coprod_sim.report.writer import write_report

    report = write_report(out).report.read_text()
    assert "**broken**: none of its runs finished" in report
    assert f"**{len(broken)} failed or missing**" in report and "**universal**" in report


# ====================================================================== one run again
def test_coprod_run_reproduces_one_run_of_a_sweep_exactly(reference, scenario_file, tmp_path):
    runs, ts = tables(reference)
    row = runs[(runs["policy"] == "universal") & (runs["replication"] == 2)].iloc[1]
    proc = subprocess.run([*COPROD, "run", str(scenario_file), "--point", str(row["point"]),
                           "--replication", "2", "--out", str(tmp_path / "one")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    mine = pd.read_parquet(tmp_path / "one" / "timeseries.parquet")
    theirs = ts[ts["run"] == row["run"]].drop(columns=["run", "point", "policy", "design_point",
                                                        "replication"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[theirs.columns], theirs, check_exact=True)


def test_coprod_run_point_errors_exit_2(scenario_file):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    for args, fragment in ((["run", "--point", "1"], "needs a scenario FILE"),
                           (["run", str(scenario_file), "--point", "99"], "allowed 0 to 7"),
                           (["run", str(scenario_file), "--replication", "4"], "allowed 0 to 3")):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert fragment in " ".join(result.output.split())


# ====================================================================== faults
FAULTS = '''
import os
import time

from coprod_sim.rules import rule


@rule("outcome")
def exits(state, params):
    """Ends the process as a script would."""
    raise SystemExit(3)


@rule("outcome")
def interrupts(state, params):
    """Raises what Ctrl+C raises."""
    raise KeyboardInterrupt


@rule("outcome")
def dies(state, params):
    """Kills its process at once."""
    os._exit(1)


@rule("outcome")
def hangs(state, params):
    """Never returns."""
    time.sleep(3600)
'''

FAULTY = """\
name = "faults"
steps = 3
seed = 5
[parameters]
population.n_citizens = 120
population.n_neighbourhoods = 4
[policies.exits]
rules.outcome = "exits"
[policies.interrupts]
rules.outcome = "interrupts"
[policies.dies]
rules.outcome = "dies"
[policies.hangs]
rules.outcome = "hangs"
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_kind_of_run_failure_is_recorded_and_the_sweep_goes_on(tmp_path, workers):
    (tmp_path / "faulty.py").write_text(FAULTS)
    (tmp_path / "faults.toml").write_text(FAULTY)
    proc = subprocess.run([*COPROD, "sweep", "faults.toml", "--rules-module", "faulty", "--out", "out",
                           "--workers", workers, "--run-timeout", "8"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "4 run(s) failed of 5" in proc.stderr
    # the command to resume names the same module (the plan refuses other options)
    assert "coprod sweep faults.toml --out out --resume --rules-module faulty" in proc.stderr
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet").set_index("policy")
    assert runs.loc["baseline", "status"] == "done"
    causes = {"exits": "SystemExit: 3", "interrupts": "KeyboardInterrupt",
              "dies": "worker process running it died", "hangs": "longer than the --run-timeout of 8 s"}
    for policy, cause in causes.items():
        assert runs.loc[policy, "status"] == "failed" and cause in runs.loc[policy, "error"], policy
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"done": 1, "failed": 4, "pending": 0}


def test_a_second_sweep_into_a_busy_folder_is_refused_and_a_dead_holder_is_taken_over(
        scenario_file, tmp_path):
    out = tmp_path / "busy"
    first = start(scenario_file, out, "--replications", "100")  # long enough to be still running
    wait_for_parts(out, 1, first)
    second = subprocess.run([*COPROD, "sweep", str(scenario_file), "--out", str(out), "--overwrite"],
                            capture_output=True, text=True, timeout=120)
    assert first.poll() is None, "the first sweep ended too soon"
    assert second.returncode == 2 and f"is in use by process {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    first.kill()  # kill -9: the lock file still names it, but nobody holds the lock any more
    first.communicate(timeout=60)
    third = subprocess.run([*COPROD, "sweep", str(scenario_file), "--out", str(out), "--overwrite",
                            "--replications", "1", "--quiet"], capture_output=True, text=True,
                           timeout=600)
    assert third.returncode == 0, third.stderr
    assert f"took over the lock of {out} left by process {first.pid}" in " ".join(third.stderr.split())


def test_overwrite_removes_only_the_sweeps_own_files(reference, scenario_file, tmp_path):
    out = tmp_path / "mine"
    sweep(load_scenario(scenario_file), out, workers=2, progress=False)
    (out / "notes.md").write_text("my notes")
    (out / "runs" / "README.txt").write_text("what these runs are")
    result = sweep(load_scenario(scenario_file), out, workers=2, overwrite=True, progress=False)
    assert result.ok and result.resumed == 0
    assert (out / "notes.md").read_text() == "my notes"
    assert (out / "runs" / "README.txt").read_text() == "what these runs are"
    assert_same_tables(reference, out)


def test_resume_across_a_code_change_is_refused_unless_allowed_and_the_mix_is_recorded(
        scenario_file, tmp_path):
    from coprod_sim.sweep.errors import SweepError
    from coprod_sim.sweep.manifest import code_fingerprint

    out = tmp_path / "old_code"
    sweep(load_scenario(scenario_file), out, workers=2, progress=False)
    path = out / "manifest.json"
    doc = json.loads(path.read_text())
    doc["code"] = "0ld0ld0ld0ld0ld0"
    for entry in doc["runs"][:5]:
        entry["code"] = "0ld0ld0ld0ld0ld0"
    path.write_text(json.dumps(doc))
    for part in list(Store(out).parts.glob("*.arrow"))[:3]:  # some runs to redo with the new code
        part.unlink()
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(SweepError, match="computed by another version of coprod-sim's code"):
        sweep(load_scenario(scenario_file), out, workers=2, resume=True, progress=False)
    assert sorted(p.name for p in out.rglob("*")) == before
    result = sweep(load_scenario(scenario_file), out, workers=2, resume=True, progress=False,
                   allow_code_change=True)
    assert result.ok
    doc = json.loads(path.read_text())
    assert doc["codes"] == sorted({"0ld0ld0ld0ld0ld0", code_fingerprint()})
    assert all(entry["code"] in doc["codes"] for entry in doc["runs"])


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_result_files_follow_the_umask(scenario_file, tmp_path, umask):
    from coprod_sim.scenario.loader import load_scenario as load

    old = os.umask(umask)
    try:
        out = tmp_path / "files"
        small = load(scenario_file, replications=1)
        sweep(small, out, workers=1, progress=False)
    finally:
        os.umask(old)
    for path in [out / "manifest.json", out / "runs.parquet", out / "timeseries.parquet",
                 *Store(out).parts.glob("*.arrow")]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def test_command_line_changes_are_part_of_the_plan(scenario_file, tmp_path):
    out = tmp_path / "options"
    args = [*COPROD, "sweep", str(scenario_file), "--out", str(out), "--replications", "1",
            "--steps", "5", "--citizens", "150", "--set", "policy.outreach_rate=0.1"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    # not a terminal: plain progress lines, one per line, readable in a log
    assert "sweep: 8 of 8 runs done, 0 failed" in proc.stderr and "\r" not in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["options"] == {
        "replications": 1, "set": {"policy.outreach_rate": 0.1, "population.n_citizens": 150,
                                   "simulation.steps": 5}}
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 8 and (runs["population.n_citizens"] == 150).all()
    other = subprocess.run([*args[:-1], "policy.outreach_rate=0.2", "--resume"],
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 2 and "different plan" in other.stderr
    same = subprocess.run([*args, "--resume", "--quiet"], capture_output=True, text=True, timeout=300)
    assert same.returncode == 0 and same.stdout == "" and same.stderr == "", same.stderr
