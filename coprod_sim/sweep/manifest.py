"""manifest.json: what a sweep is, which code ran it, and the status of every run."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from coprod_sim.scenario.plan import Scenario
from coprod_sim.sweep.store import Store, atomic_write_bytes
from coprod_sim.sweep.task import DONE, FAILED, PENDING

SEEDING = ("numpy.random.SeedSequence(seed, spawn_key=(replication,)): the same draws for every"
           " policy and design point of a replication (coprod_sim.run.run_seed)")

MANIFEST_EVERY = 5.0  # seconds between manifest rewrites while running


def code_fingerprint() -> str:
    """A hash of the package's source: results computed by different code do not mix silently."""
    root = Path(__file__).resolve().parents[1]  # the whole package
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Manifest:
    """manifest.json, rewritten atomically at the start, every few seconds, and at the end."""

    def __init__(self, store: Store, scenario: Scenario, executor: str, status: dict[int, str],
                 errors: dict[int, str], codes: dict[int, str] | None = None):
        from coprod_sim import __version__

        self.store, self.scenario, self.status, self.errors = store, scenario, status, errors
        self.executor = executor
        self.version = __version__
        self.code = code_fingerprint()
        self.codes = dict(codes or {})  # the code version of each run done (resumed runs: theirs)
        old = store.read_manifest() or {}
        self.created = old.get("created") or now()
        self.last = 0.0

    def maybe_write(self) -> None:
        if time.monotonic() - self.last >= MANIFEST_EVERY:
            self.write()

    def write(self) -> None:
        sc = self.scenario
        runs = []
        for p in sc.points():
            for r in range(sc.replications):
                i = p.index * sc.replications + r
                st = self.status[i]
                if st == PENDING and i in self.errors:
                    st = FAILED
                entry = {"run": i, "point": p.index, "policy": p.policy, "design_point": p.design_point,
                         "replication": r, "seed": sc.seed, "spawn_key": [r], "status": st}
                if st == FAILED:
                    entry["error"] = self.errors.get(i) or self.store.read_failure(i)
                if st == DONE:
                    entry["code"] = self.codes.get(i, self.code)
                runs.append(entry)
        counts = {s: sum(1 for e in runs if e["status"] == s) for s in (DONE, FAILED, PENDING)}
        doc = {
            "format": 1,
            "package": "coprod-sim",
            "version": self.version,
            "created": self.created,
            "updated": now(),
            "executor": self.executor,
            "code": self.code,
            "codes": sorted({e["code"] for e in runs if "code" in e}),  # more than one: a mix
            "seeding": SEEDING,
            "scenario": sc.to_dict(),
            "counts": counts,
            "runs": runs,
        }
        atomic_write_bytes(self.store.manifest, (json.dumps(doc, indent=1) + "\n").encode())
        self.last = time.monotonic()
