"""The disk cache of compiled code follows every source compiled into it (issue 10).

Numba keys a function's disk cache on the function's own file, but the month's loops
(``month/compiled.py``) contain code from other files: the equations (``rules/equations.py``)
and the scalar helpers of ``rules/jit.py``. A copy of the package is run in fresh processes
sharing one cache directory; between runs one of those other files is edited, and the
compiled result must follow the edit (and be loaded from the cache when nothing changed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import coprod_sim

pytest.importorskip("numba")

SCRIPT = """
import json
import numpy as np
from coprod_sim.month import compiled as fast
from coprod_sim.params import Parameters
from coprod_sim.rules import equations as eq

k = eq.coefficients(Parameters())
who = np.arange(3, dtype=np.int32)
e, c, r = np.array([0.2, 0.5, 0.9]), np.array([0.3, 0.6, 0.1]), np.array([0.4, 0.2, 0.8])
peer, mode, level = np.array([0.0, 0.5, 1.0]), np.array([0, 1, 0], np.int8), np.ones(3, np.int8)
utilities, logits = np.empty((3, 2)), np.empty(3)
fast.level_utilities(who, e, c, r, peer, k, utilities)
fast.success_logits(who, mode, c, np.zeros(3, np.int64), np.array([0.1]), peer, level, k, logits)
print(json.dumps({
    "utilities": utilities.tolist(),
    "utilities_numpy": np.stack(eq.level_utilities(eq.resource_index(e, c, r), peer, k), 1).tolist(),
    "logits": logits.tolist(),
    "cache_hits": sum(sum(f.stats.cache_hits.values())
                      for f in (fast.level_utilities, fast.success_logits)),
}))
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path.name}"
    path.write_text(text.replace(old, new))


def test_an_edit_to_an_equation_or_a_compiled_helper_is_recompiled(tmp_path):
    package = tmp_path / "src" / "coprod_sim"
    shutil.copytree(Path(coprod_sim.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(package.parent), "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "COPROD_ACCELERATE": "1"}

    def run() -> dict:
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                              text=True, cwd=tmp_path, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run()
    assert first["cache_hits"] == 0 and first["utilities"] == first["utilities_numpy"]
    again = run()
    assert again["cache_hits"] > 0, "nothing loaded from the cache: the test would prove nothing"
    assert again["utilities"] == first["utilities"] and again["logits"] == first["logits"]

    # An equation edited (equations.py only): the compiled loop of compiled.py follows it.
    edit(package / "rules" / "equations.py", "    return (efficacy - 0.5) + (competence - 0.5)",
         "    return 0.25 + (efficacy - 0.5) + (competence - 0.5)")
    edited = run()
    assert edited["cache_hits"] == 0
    assert edited["utilities"] == edited["utilities_numpy"] != first["utilities"]

    # A compiled helper edited (jit.py's scalar by_mode): individual episodes now take the
    # group mode's difficulty, in the compiled loop only.
    edit(package / "rules" / "jit.py", "            if mode == 0:\n                return individual",
         "            if mode == 0:\n                return group")
    helper = run()
    assert helper["cache_hits"] == 0
    assert helper["logits"][1] == edited["logits"][1]  # the group episode is as it was
    assert helper["logits"][0] != edited["logits"][0] and helper["logits"][2] != edited["logits"][2]
