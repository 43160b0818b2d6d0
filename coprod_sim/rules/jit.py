"""Numba for compiled code: the decorator, and the equations made compilable.

The equations of the default rules (:mod:`coprod_sim.rules.equations`) are plain Python
functions over numbers or arrays. Here they are registered with Numba, so that compiled loops
call them citizen by citizen, and their three branch helpers get scalar forms (NumPy's
``where``, indexing and ``clip`` would allocate an array per call). The scalar forms select
exactly what the NumPy forms select, so both give the same bits.

Numba caches compiled code on disk keyed by the source file of each compiled function, but
the compiled loops contain code from other files too (the equations, these overloads, other
loops, constants); here their cache is keyed on all of those sources
(:func:`source_stamp`), so an edited equation is recompiled, never served stale.

Without Numba (or with ``COPROD_ACCELERATE=0``) nothing here is used: the kernel runs the
NumPy month, which evaluates the same equations on arrays.
"""

from __future__ import annotations

import functools
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

    cache = _prepare()
    return numba.njit(cache=cache, nogil=True, boundscheck=False, error_model="numpy")(fn)


_prepared: list[bool] = []


def _prepare() -> bool:
    """Once: make the equations compilable and key the disk cache on their sources; whether
    the disk cache may be used."""
    if _prepared:
        return _prepared[0]
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
    _prepared.append(_install_locators())
    return _prepared[0]


# --- The disk cache of compiled code is keyed on every source compiled into it ---------------
#
# Numba keys a function's disk cache on its own source file only, and freezes what it calls
# from other files (and their global constants) into the compiled code: editing only
# equations.py, jumps.py, this file or names.py would leave stale compiled loops. Here the
# stamp of every cached function of the package is a hash of all those sources, so any edit
# to them recompiles everything that may have used it.

_PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def compiled_sources() -> tuple[Path, ...]:
    """The package's sources whose code compiled functions may contain: every module with a
    ``@jit`` function, the equations, this module (its overloads) and the names (constants).
    Found once per process."""
    marked = [p for p in sorted(_PACKAGE.rglob("*.py"))
              if "__pycache__" not in p.parts and "\n@jit\n" in p.read_text(encoding="utf-8")]
    return tuple(sorted({*marked, Path(eq.__file__).resolve(), Path(__file__).resolve(),
                         _PACKAGE / "names.py"}))


_stamp_of: dict[tuple, str] = {}


def source_stamp() -> str:
    """SHA-256 of :func:`compiled_sources` (recomputed when a file's size or time changes)."""
    files = compiled_sources()
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    if key not in _stamp_of:
        h = hashlib.sha256()
        for path in files:
            h.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes())
        _stamp_of.clear()
        _stamp_of[key] = h.hexdigest()
    return _stamp_of[key]


def _keyed_on_sources(locator: type) -> type:
    """A Numba cache locator like ``locator`` whose source stamp is :func:`source_stamp`
    for the package's functions (others are left to Numba's own locators)."""

    class Locator(locator):
        @classmethod
        def from_function(cls, py_func, py_file):
            if not Path(py_file).resolve().is_relative_to(_PACKAGE):
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return source_stamp()

    Locator.__name__ = f"Sources{locator.__name__}"
    return Locator


def _install_locators() -> bool:
    """Put the source-keyed locators first in Numba's list; False if this Numba has no such
    list (then :func:`jit` compiles without a disk cache rather than risk stale code)."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover
        return False
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    if impl is None or not all(hasattr(caching, n) for n in names):  # pragma: no cover
        return False
    classes = impl._locator_classes
    if not any(c.__name__.startswith("Sources") for c in classes):
        classes[:0] = [_keyed_on_sources(getattr(caching, n)) for n in names]
    return True
