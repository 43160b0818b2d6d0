"""Start-up benchmark: how long the ``coprod`` commands take from the shell, cold and warm.

Targets (issue 10, item 8): ``coprod --help`` at most 0.5 s, ``coprod validate FILE`` at most
2 s, a default ``coprod run`` at most 3 s once Numba's cache is filled (the first compile).

    .venv/bin/python benchmarks/bench_startup.py              # 5 warm runs of each command
    .venv/bin/python benchmarks/bench_startup.py --repeats 9 --json out/bench_startup.json

Each command runs as a user runs it, in a new process (the console script), and is timed
from the outside: wall-clock seconds and the CPU seconds of the process (user + system,
which other work on a shared machine disturbs less). "Cold" runs with an empty bytecode
cache (``PYTHONPYCACHEPREFIX`` pointing at a new folder, so every module of the package and
its libraries is compiled from source again, as on the first command after an install);
"warm" runs with the caches as they are. Numba's compiled month is cached in both: it is
filled once before timing (the "first compile", about 15 s, is not what this measures).
Medians are printed, with the machine's load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPROD = str(Path(sys.executable).with_name("coprod"))
SCENARIO = ROOT / "scenarios" / "baseline.toml"

COMMANDS: dict[str, tuple[list[str], float]] = {
    "coprod --help": (["--help"], 0.5),
    "coprod validate scenarios/baseline.toml": (["validate", str(SCENARIO)], 2.0),
    "coprod run": (["run"], 3.0),
}
"""Each command's arguments and its target in seconds (wall clock)."""


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one ``coprod`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([COPROD, *args], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"coprod {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(repeats: int, cold_repeats: int) -> list[dict]:
    env = dict(os.environ, COLUMNS="80")
    timed(["run", "--steps", "2"], env)  # fill Numba's cache and the bytecode cache first
    rows = []
    for name, (args, target) in COMMANDS.items():
        cold = []
        for _ in range(cold_repeats):
            with tempfile.TemporaryDirectory(prefix="coprod-pycache-") as fresh:
                cold.append(timed(args, dict(env, PYTHONPYCACHEPREFIX=fresh)))
        warm = [timed(args, env) for _ in range(repeats)]
        row = {"command": name, "target_s": target,
               "warm_wall_s": statistics.median(w for w, _ in warm),
               "warm_cpu_s": statistics.median(c for _, c in warm),
               "cold_wall_s": statistics.median(w for w, _ in cold) if cold else None,
               "cold_cpu_s": statistics.median(c for _, c in cold) if cold else None,
               "repeats": repeats, "cold_repeats": cold_repeats}
        row["met"] = row["warm_wall_s"] <= target
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(r: dict) -> str:
    cold = (f"cold {r['cold_wall_s']:5.2f} s wall {r['cold_cpu_s']:5.2f} s CPU"
            if r["cold_wall_s"] is not None else "cold not measured")
    verdict = "met" if r["met"] else "MISSED"
    return (f"{r['command']:<42} warm {r['warm_wall_s']:5.2f} s wall {r['warm_cpu_s']:5.2f} s CPU;"
            f" {cold}; target {r['target_s']:.1f} s: {verdict}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="warm runs of each command (5)")
    ap.add_argument("--cold", type=int, default=3, help="cold runs of each command (3; 0 skips)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    load = os.getloadavg()
    print(f"coprod start-up, medians of {args.repeats} warm and {args.cold} cold runs;"
          f" load average {load[0]:.1f} on {os.cpu_count()} CPUs (python {sys.version.split()[0]})")
    rows = measure(args.repeats, args.cold)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"load_before": load, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
