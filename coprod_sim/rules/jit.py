"""Numba for compiled code: the decorator, and the equations made compilable.

The equations of the default rules (:mod:`coprod_sim.rules.equations`) are plain Python
functions over numbers or arrays. Here they are registered with Numba, so that compiled loops
call them citizen by citizen, and their three branch helpers get scalar forms (NumPy's
``where``, indexing and ``clip`` would allocate an array per call). The scalar forms select
exactly what the NumPy forms select, so both give the same bits.

Numba caches compiled code on disk keyed by the source file of each compiled function; the
compiled loops depend on ``equations.py`` too, so their cache is also keyed by it (an edited
equation is recompiled, never served stale from the cache).

Without Numba (or with ``COPROD_ACCELERATE=0``) nothing here is used: the kernel runs the
NumPy month, which evaluates the same equations on arrays.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from coprod_sim.rules import equations as eq

AVAILABLE = importlib.util.find_spec("numba") is not None
"""Whether Numba is installed (it is a dependency; it is imported only when code is compiled)."""


def enabled_by_default() -> bool:
    """Whether the compiled path is used when not asked otherwise (env COPROD_ACCELERATE)."""
    return AVAILABLE and os.environ.get("COPROD_ACCELERATE", "1").strip().lower() not in (
        "0", "false", "no", "off")


def jit(fn):
    """Compile ``fn`` (cached on disk) when Numba is available; else leave it as it is."""
    # error_model="numpy": IEEE division (no Python zero-division checks in the loops); every
    # division here has a non-zero denominator, so results are unchanged. No fast-math: the
    # operations run in the order written, as NumPy runs them.
    if not AVAILABLE:
        return fn
    import numba

    _prepare()
    return numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")(fn)


_prepared: list[bool] = []


def _prepare() -> None:
    """Once: make the equations compilable and key the disk cache on their source."""
    if _prepared:
        return
    from numba.extending import overload, register_jitable

    @overload(eq.where)
    def _where(condition, if_true, if_false):
        return lambda condition, if_true, if_false: if_true if condition else if_false

    @overload(eq.by_mode)
    def _by_mode(mode, individual, group, collective):
        def pick(mode, individual, group, collective):
            if mode == 0:
                return individual
            return group if mode == 1 else collective
        return pick

    @overload(eq.clip)
    def _clip(x, low, high):
        def limit(x, low, high):  # np.clip on a number (NaN never reaches here)
            x = x if x > low else low
            return x if x < high else high
        return limit

    for equation in eq.EQUATIONS:
        register_jitable(equation)
    _install_locators()
    _prepared.append(True)


# --- The disk cache of compiled loops also depends on the equations' source ---------------

_DEPENDS_ON = (Path(eq.__file__).resolve(),)
_COMPILED_DIRS = (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "month")
"""Folders whose compiled functions call the equations (rules/, month/)."""


def _stamp(py_file: str) -> str:
    h = hashlib.sha256()
    for path in (Path(py_file), *_DEPENDS_ON):
        h.update(path.read_bytes())
    return h.hexdigest()


def _with_equations(locator: type) -> type:
    """A Numba cache locator for rules/ and month/ whose source stamp covers the equations."""

    class Locator(locator):
        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent not in _COMPILED_DIRS:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return _stamp(self._py_file)

    Locator.__name__ = f"Equations{locator.__name__}"
    return Locator


def _install_locators() -> None:
    try:
        from numba.core.caching import InTreeCacheLocator, UserWideCacheLocator, _CacheImpl
    except ImportError:  # pragma: no cover - a Numba without these: default stamps
        return
    if not any(c.__name__.startswith("Equations") for c in _CacheImpl._locator_classes):
        _CacheImpl._locator_classes[:0] = [_with_equations(InTreeCacheLocator),
                                           _with_equations(UserWideCacheLocator)]
