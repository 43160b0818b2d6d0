"""One measurement in a fresh process: ``python benchmarks/measure.py '<json task>'``.

Each task runs in its own interpreter so that its peak memory (the process's maximum resident
set size) is its own and nothing is shared with another measurement. It prints one JSON
object on stdout. Tasks:

kernel      build a town and run it (the compiled path unless ``accelerate`` is false);
            build times, per-step time and CPU time, time per stage, peak memory, and a
            digest of everything the run produced (to compare paths)
comparator  the idiomatic Mesa comparator and the kernel on the same town, alternately
cli         ``coprod run`` as a user types it: wall time and peak memory of that process
sweep       sweep throughput on local worker processes
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# One core: no library may start threads of its own.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def digest(model) -> str:
    """SHA-256 of the time series, the neighbourhood table and every state array at the end."""
    h = hashlib.sha256()
    for table in (model.timeseries(), model.neighbourhood_timeseries()):
        h.update(",".join(table.columns).encode())
        for col in table.columns:
            h.update(table[col].to_numpy().tobytes())
    s = model.state
    for group in (s.citizens, s.administrations, s.neighbourhoods):
        for f in fields(group):
            value = getattr(group, f.name)
            if value is not None:  # optional arrays (a town from a table) may be absent
                h.update(value.tobytes())
    for name in ("peer_active_share", "coparticipant_share", "tie_success_share",
                 "output_per_resident"):
        h.update(getattr(s, name).tobytes())
    return h.hexdigest()


def warm_up(accelerate: bool | None) -> float:
    """Load (or compile, on a fresh clone) the compiled code on a small town; seconds taken."""
    from coprod_sim.model import CoproductionModel

    t = time.perf_counter()
    m = CoproductionModel({"population.n_citizens": 500}, accelerate=accelerate)
    m.step()
    return time.perf_counter() - t


def task_kernel(citizens: int, steps: int, accelerate: bool | None = None, seed: int = 0,
                overrides: dict[str, Any] | None = None, want_digest: bool = False,
                record_neighbourhoods: bool = True) -> dict[str, Any]:
    from coprod_sim.model import CoproductionModel
    from coprod_sim.params import Parameters
    from coprod_sim.town import build as build_module

    jit_s = warm_up(accelerate)
    params = Parameters({"population.n_citizens": citizens, "simulation.steps": steps,
                         **(overrides or {})})
    # Time the parts of building, as the model calls them.
    spent: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
            return out
        return wrapper

    originals = {name: getattr(build_module, name)
                 for name in ("build_neighbourhoods", "build_citizens", "build_network")}
    for name, fn in originals.items():
        setattr(build_module, name, timed(name, fn))
    t = time.perf_counter()
    model = CoproductionModel(params, seed=seed, accelerate=accelerate,
                              record_neighbourhoods=record_neighbourhoods)
    build_s = time.perf_counter() - t
    for name, fn in originals.items():
        setattr(build_module, name, fn)
    peak_after_build = peak_memory_mb()

    model.kernel.timings = {}
    load_before = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stages = {k: 1e3 * v / steps for k, v in model.kernel.timings.items()}
    stages["recording"] = 1e3 * wall / steps - sum(stages.values())
    out = {
        "citizens": citizens, "steps": steps, "accelerated": model.kernel.accelerated,
        "ties": int(model.state.network.nnz // 2),
        "jit_warmup_s": jit_s,
        "build_s": build_s,
        "build_population_s": spent.get("build_neighbourhoods", 0) + spent.get("build_citizens", 0),
        "build_network_s": spent.get("build_network", 0.0),
        "run_s": wall, "run_cpu_s": cpu,
        "step_ms": 1e3 * wall / steps,
        "citizen_steps_per_s": citizens * steps / wall,
        "stage_ms_per_step": stages,
        "peak_memory_mb": peak_memory_mb(),
        "peak_memory_after_build_mb": peak_after_build,
        "load_average": [load_before, os.getloadavg()[0]],
        "citizen_objects": len(model.agents) - len(model.administrations),
    }
    if want_digest:
        out["digest"] = digest(model)
    return out


def task_comparator(citizens: int, steps: int, repeats: int = 3, seed: int = 0,
                    space: str = "network") -> dict[str, Any]:
    """Seconds per month of the Mesa comparator and of the kernel, on the same town.

    ``space``: "network" (Mesa's network space, the idiomatic comparator) or "lists".
    """
    from benchmarks.mesa_comparator import ComparatorModel
    from coprod_sim.model import CoproductionModel
    from coprod_sim.run import run_seed

    warm_up(None)
    settings = {"population.n_citizens": citizens, "simulation.steps": steps}
    mesa_s, kernel_s, mesa_cpu, kernel_cpu = [], [], [], []
    for r in range(repeats):
        m = ComparatorModel(settings, seed=seed, replication=r, space=space)
        t, c = time.perf_counter(), time.process_time()
        for _ in range(steps):
            m.step()
        mesa_s.append((time.perf_counter() - t) / steps)
        mesa_cpu.append((time.process_time() - c) / steps)
        del m
        k = CoproductionModel(settings, seed=run_seed(seed, r))
        t, c = time.perf_counter(), time.process_time()
        for _ in range(steps):
            k.step()
        kernel_s.append((time.perf_counter() - t) / steps)
        kernel_cpu.append((time.process_time() - c) / steps)
    return {"citizens": citizens, "steps": steps, "repeats": repeats, "space": space,
            "mesa_step_s": mesa_s, "kernel_step_s": kernel_s, "mesa_step_cpu_s": mesa_cpu,
            "kernel_step_cpu_s": kernel_cpu, "load_average": os.getloadavg()[0]}


def task_cli(citizens: int, steps: int) -> dict[str, Any]:
    """``coprod run --citizens N --steps S`` in a process of its own: wall time, peak memory."""
    exe = Path(sys.executable).with_name("coprod")
    cmd = [str(exe), "run", "--citizens", str(citizens), "--steps", str(steps)]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"command": " ".join(["coprod", *cmd[1:]]), "exit_code": done.returncode,
            "wall_s": wall, "peak_memory_mb": peak,
            "stderr_tail": done.stderr[-400:] if done.returncode else ""}


def task_sweep(runs: int, citizens: int, steps: int, workers: int) -> dict[str, Any]:
    """The sweep engineer's measure_throughput when present, else a process pool over run()."""
    try:
        from coprod_sim.sweep.estimate import measure_throughput
    except ImportError:
        measure_throughput = None
    if measure_throughput is not None:
        out = measure_throughput(runs=runs, citizens=citizens, steps=steps, workers=workers)
        out["method"] = ("coprod_sim.sweep.estimate.measure_throughput"
                         " (the real sweep: workers, Parquet, tables)")
        return out
    from concurrent.futures import ProcessPoolExecutor

    from coprod_sim.run import run

    settings = {"population.n_citizens": citizens, "simulation.steps": steps}
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_one_run, [(settings, r) for r in range(runs)]))
    seconds = time.perf_counter() - t
    del run
    return {"runs": runs, "citizens": citizens, "steps": steps, "workers": workers,
            "seconds": seconds, "runs_per_second": runs / seconds,
            "citizen_months_per_second": runs * citizens * steps / seconds,
            "method": "ProcessPoolExecutor over coprod_sim.run.run"}


def _one_run(args):
    from coprod_sim.run import run

    settings, replication = args
    run(settings, seed=1, replication=replication, record_neighbourhoods=False)


TASKS = {"kernel": task_kernel, "comparator": task_comparator, "cli": task_cli, "sweep": task_sweep}


def main() -> None:
    task = json.loads(sys.argv[1])
    kind = task.pop("task")
    print(json.dumps(TASKS[kind](**task)))


if __name__ == "__main__":
    main()
