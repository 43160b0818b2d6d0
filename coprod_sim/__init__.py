"""coprod-sim: citizens coproducing public services with their administrations."""

from importlib.metadata import PackageNotFoundError, version

from coprod_sim.params import ParameterError, Parameters

try:
    __version__ = version("coprod-sim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["ParameterError", "Parameters", "__version__"]
