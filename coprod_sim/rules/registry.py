"""Registry of rules by stage: built-in names, or any ``package.module:function``.

``rules.<stage>`` keys of the parameter tree select a rule. A value is either the name of a
registered rule (``coprod rules`` lists them) or ``package.module:function``, imported on
first use. The folder a command runs from is importable, so ``mymod:my_rule`` finds
``./mymod.py``; anything else must be installed or on ``PYTHONPATH``.

The module of a custom rule is imported *before* the other keys of a parameter set are
validated (through a hook this module installs in :mod:`coprod_sim.params`), so parameters
the rule declares with ``@rule(..., params=...)`` are known when a scenario or ``--set``
uses them, also in a sweep's worker processes.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coprod_sim.names import STAGES
from coprod_sim.params import Param, Parameters, add_rule_hook, declare
from coprod_sim.rules.base import RuleError, RuleOutputError

Rule = Callable[..., Any]

__all__ = [
    "Rule", "RuleError", "RuleOutputError", "available", "check_signature", "custom_rule_files",
    "declared_params",
    "import_module", "resolve", "rule", "rule_label", "selected", "summary", "what_went_wrong",
]

_REGISTRY: dict[str, dict[str, Rule]] = {stage: {} for stage in STAGES}
_RESOLVED: dict[tuple[str, str], Rule] = {}  # module-path selections already imported


def rule(stage: str, name: str | None = None, params: Mapping[str, Param] | None = None,
         group: str = "rules") -> Callable[[Rule], Rule]:
    """Decorator registering a rule for ``stage`` under ``name`` (default: function name).

    ``params`` declares parameters the rule needs; they join the parameter tree as
    ``<group>.<name>`` and are validated, swept, listed by ``coprod rules`` and documented
    like built-in ones. Give a custom rule a group of its own (``group="crowding"``) so its
    keys read well (``crowding.strength``). A custom rule loaded by module path is
    registered when its module is imported; its name must not clash with another rule's.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")

    def register(fn: Rule) -> Rule:
        key = name or fn.__name__
        existing = _REGISTRY[stage].get(key)
        if existing is not None and _origin(existing) != _origin(fn):
            raise ValueError(
                f"a rule named {key!r} is already registered for stage {stage!r} (by"
                f" {_origin(existing)}); give {_origin(fn)} another name: @rule({stage!r}, 'new_name')")
        if params:
            declare(group, params)
        fn.stage = stage  # type: ignore[attr-defined]
        fn.rule_name = key  # type: ignore[attr-defined]
        fn.rule_params = {f"{group}.{p}": spec for p, spec in (params or {}).items()}  # type: ignore[attr-defined]
        _REGISTRY[stage][key] = fn
        return fn

    return register


def _origin(fn: Rule) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def available(stage: str) -> dict[str, Rule]:
    """Registered rules of a stage, by name (built-in ones and any custom ones imported)."""
    _load_builtins()
    return dict(_REGISTRY[stage])


def summary(fn: Rule) -> str:
    """First line of a rule's docstring."""
    doc = inspect.getdoc(fn)
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""


def declared_params(fn: Rule) -> dict[str, Param]:
    """Parameters a rule declared with ``@rule(..., params=...)``, by dotted key."""
    return dict(getattr(fn, "rule_params", {}) or {})


def rule_label(fn: Rule) -> str:
    """How to name a rule in messages: its registered name, else ``module:function``."""
    return getattr(fn, "rule_name", None) or _origin(fn)


def resolve(stage: str, name: str) -> Rule:
    """The rule called ``name`` for ``stage``: a registered name or ``package.module:function``."""
    _load_builtins()
    if stage not in STAGES:
        raise RuleError(stage, name, f"there is no such stage; stages are {', '.join(STAGES)}.")
    if name in _REGISTRY[stage]:
        return _REGISTRY[stage][name]
    cached = _RESOLVED.get((stage, name))
    if cached is not None:
        return cached
    if ":" not in name:
        known = ", ".join(sorted(_REGISTRY[stage]))
        elsewhere = [s for s in STAGES if name in _REGISTRY[s]]
        hint = f" {name!r} is a rule for stage {elsewhere[0]!r}." if elsewhere else ""
        raise RuleError(
            stage, name,
            f"no rule of that name.{hint} Rules for this stage: {known};"
            " or give a custom rule as 'package.module:function'.",
        )
    module_name, _, func_name = name.partition(":")
    if not module_name or not func_name or not all(
            part.isidentifier() for part in [*module_name.split("."), *func_name.split(".")]):
        raise RuleError(stage, name, "a custom rule is written 'package.module:function', e.g."
                        " 'mymodule:my_rule' for function my_rule in mymodule.py.")
    module = _import(stage, name, module_name)
    fn: Any = module
    for attr in func_name.split("."):
        fn = getattr(fn, attr, None)
    if fn is None:
        own = sorted(k for k, v in vars(module).items() if inspect.isfunction(v)
                     and v.__module__ == module.__name__ and not k.startswith("_"))
        close = difflib.get_close_matches(func_name, own, n=1)
        listing = (f" Did you mean {close[0]!r}?" if close else
                   f" Functions it defines: {', '.join(own[:10])}{', ...' if len(own) > 10 else ''}."
                   if own else " It defines no functions.")
        raise RuleError(stage, name, f"module {module_name!r} ({_where(module)}) has no function"
                        f" {func_name!r}.{listing}")
    if not callable(fn):
        raise RuleError(stage, name, f"{name!r} is a {type(fn).__name__}, not a function.")
    declared = getattr(fn, "stage", None)
    if declared is not None and declared != stage:
        raise RuleError(stage, name, f"this function is declared with @rule({declared!r}), a rule for"
                        f" stage {declared!r}; select it with rules.{declared} instead.")
    check_signature(stage, name, fn)
    _RESOLVED[(stage, name)] = fn
    return fn


def import_module(module_name: str):
    """Import a module of custom rules (registering those declared with ``@rule``)."""
    return _import("?", module_name, module_name)


def _import(stage: str, name: str, module_name: str):
    _cwd_importable()
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name != exc.name and not module_name.startswith(exc.name + "."):
            # the user's module exists but itself imports something missing
            raise RuleError(stage, name, f"importing module {module_name!r} failed: it imports"
                            f" {exc.name!r}, which is not installed.") from None
        raise RuleError(stage, name, f"module {module_name!r} not found. It must be a file"
                        f" {module_name.replace('.', '/')}.py in the folder you run from"
                        f" ({os.getcwd()}), on PYTHONPATH, or installed.") from None
    except Exception as exc:  # a broken module is the user's file, not ours
        raise RuleError(stage, name, f"importing module {module_name!r} failed:"
                        f" {_exception_text(exc)}") from None


def _cwd_importable() -> None:
    """Make the current folder importable, as ``python -m`` would (console scripts do not)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def _where(module) -> str:
    file = getattr(module, "__file__", None)
    return file or "built in"


def custom_rule_files() -> list[Path]:
    """Single-file modules of the custom rules loaded so far, outside the Python installation.

    What a remote Dask cluster needs: ``client.upload_file(path)`` for each makes the rules
    importable on workers started in another folder.
    """
    files = set()
    for fn in _RESOLVED.values():
        module = sys.modules.get(getattr(fn, "__module__", ""), None)
        file = getattr(module, "__file__", None)
        if module is None or file is None or "." in module.__name__ or not file.endswith(".py"):
            continue
        path = Path(file).resolve()
        if not any(path.is_relative_to(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix}):
            files.add(path)
    return sorted(files)


def check_signature(stage: str, name: str, fn: Rule) -> None:
    """A rule must accept two positional arguments: (state, params)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins without a signature: give them the benefit of the doubt
    try:
        sig.bind(None, None)
    except TypeError:
        raise RuleError(stage, name, f"wrong signature {getattr(fn, '__name__', name)}{sig};"
                        " a rule takes two positional arguments: (state, params).") from None


def selected(params: Parameters) -> dict[str, Rule]:
    """The rule chosen for every stage by ``params['rules.<stage>']``."""
    return {stage: resolve(stage, params[f"rules.{stage}"]) for stage in STAGES}


def what_went_wrong(fn: Rule, exc: BaseException) -> str:
    """Explain an exception raised inside a rule: type, message and the line in the rule's file."""
    text = f"it raised {_exception_text(exc)}"
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        text += " (a rule must not write into the state it is given; copy an array first)"
    where = _rule_frame(fn, exc)
    return f"{text} (at {where})" if where else text


def _exception_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _rule_frame(fn: Rule, exc: BaseException) -> str:
    """``file, line N`` of the deepest frame in the rule's own file, else the deepest frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    try:
        own = Path(inspect.getfile(fn)).resolve()
    except (TypeError, OSError):
        own = None
    pick = frames[-1]
    if own is not None:
        mine = [f for f in frames if Path(f.filename).resolve() == own]
        pick = mine[-1] if mine else pick
    return f"{pick.filename}, line {pick.lineno}"


def _on_rule_key(key: str, value: Any, strict: bool) -> None:
    """Params hook: import the rule a ``rules.<stage>`` value names (see module docstring)."""
    stage = key.partition(".")[2]
    if stage not in STAGES or not isinstance(value, str):
        return  # not a selection: the tree's own validation reports it
    try:
        resolve(stage, value)
    except RuleError:
        if strict:
            raise


add_rule_hook(_on_rule_key)

_loaded = False


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("coprod_sim.rules.defaults")
        importlib.import_module("coprod_sim.rules.alternatives")
