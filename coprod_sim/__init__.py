"""coprod-sim: citizens coproducing public services with their administrations.

Importing any module of the package runs this file first, so it imports nothing:
``coprod_sim.Parameters``, ``coprod_sim.ParameterError`` and ``coprod_sim.__version__`` are
looked up when first asked for (``coprod --help`` stays fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coprod_sim.params import ParameterError, Parameters

__all__ = ["ParameterError", "Parameters", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Parameters", "ParameterError"):
        from coprod_sim import params

        return getattr(params, name)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("coprod-sim")
        except PackageNotFoundError:  # running from a source tree without installing
            found = "0.0.0+unknown"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module 'coprod_sim' has no attribute {name!r}")
