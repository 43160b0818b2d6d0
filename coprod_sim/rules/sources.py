"""Where custom rules come from: installed packages and modules the user names. Never a file.

A scenario file is data: it names rules, and no code it mentions is ever imported. Custom
rules are loaded from

- **installed packages** declaring an entry point in the group ``coprod_sim.rules``
  (``[project.entry-points."coprod_sim.rules"] crowding = "mypackage.rules"``): the module
  (or ``module:function``) is imported when a rule name is not found among those already
  registered, and its ``@rule`` functions are registered;
- **modules the user names**: ``coprod sweep/validate --rules-module mymodule``, the
  environment variable ``COPROD_RULES_MODULES=mymodule,other`` (a trusted configuration,
  read by every command and inherited by local worker processes), or ``import mymodule`` in
  Python; the folder the command runs from is searched for ``mymodule.py``;
- a ``package.module:function`` typed on the command line (``--set``, ``coprod rules check``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from types import ModuleType

from coprod_sim.rules.base import RuleError

ENTRY_POINT_GROUP = "coprod_sim.rules"
ENVIRONMENT = "COPROD_RULES_MODULES"

_TRUSTED: set[str] = set()  # modules of rules the user named (command line, environment, workers)
_entry_points_loaded = False
_environment_loaded: str | None = None


def trusted_modules() -> set[str]:
    return set(_TRUSTED)


def use_modules(names: Iterable[str], stage: str = "?") -> list[ModuleType]:
    """Import the modules of rules the user named (``--rules-module``); RuleError if one fails."""
    return [import_user_module(stage, name, name) for name in names]


def import_user_module(stage: str, label: str, module_name: str) -> ModuleType:
    """Import a module the user named, from the current folder, PYTHONPATH or the installation."""
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise RuleError(stage, label, f"{module_name!r} is not a module name: a module is named"
                        " like 'mymodule' (mymodule.py) or 'mypackage.rules'.")
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:  # as `python -m` would; console scripts do not put the current folder on the path
        sys.path.append(cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name != exc.name and not module_name.startswith(exc.name + "."):
            # the user's module exists but itself imports something missing
            raise RuleError(stage, label, f"importing module {module_name!r} failed: it imports"
                            f" {exc.name!r}, which is not installed.") from None
        raise RuleError(stage, label, f"module {module_name!r} not found. It must be a file"
                        f" {module_name.replace('.', '/')}.py in the folder you run from"
                        f" ({cwd}), on PYTHONPATH, or installed.") from None
    except Exception as exc:  # a broken module is the user's file, not ours
        raise RuleError(stage, label, f"importing module {module_name!r} failed:"
                        f" {exception_text(exc)}") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    _TRUSTED.add(module_name)
    return module


def exception_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def load_configured() -> None:
    """Import the modules ``COPROD_RULES_MODULES`` names (once per value of the variable)."""
    global _environment_loaded
    value = os.environ.get(ENVIRONMENT, "")
    if value == _environment_loaded:
        return
    _environment_loaded = value
    names = [n.strip() for n in value.replace(";", ",").split(",") if n.strip()]
    for name in names:
        import_user_module("?", f"{ENVIRONMENT}={value}", name)


def load_entry_points() -> None:
    """Import the rules of installed packages (entry point group ``coprod_sim.rules``), once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()  # a module of @rule functions, or one @rule function
        except Exception as exc:
            dist = getattr(getattr(ep, "dist", None), "name", "?")
            raise RuleError("?", ep.name, f"the installed package {dist!r} declares it as a"
                            f" {ENTRY_POINT_GROUP} entry point ({ep.value}), but loading it failed:"
                            f" {exception_text(exc)}") from None
        _TRUSTED.add(ep.module)


def import_trusted(names: Iterable[str]) -> None:
    """In a worker: import the modules of the custom rules the sweep's parent selected.

    The parent imported them first from a source the user trusts, so they are imported here
    by name (a module that cannot be imported fails the run that needs it, with its reason).
    """
    for name in names:
        if name not in sys.modules:
            import_user_module("?", name, name)
