"""Registry of rules by stage: built-in names, or any ``package.module:function``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from coprod_sim.params import Param, ParameterError, Parameters, declare
from coprod_sim.rules.base import STAGES

Rule = Callable[..., Any]

_REGISTRY: dict[str, dict[str, Rule]] = {stage: {} for stage in STAGES}


class RuleError(ParameterError):
    """A rule that cannot be found, loaded or trusted. The message names stage and rule."""

    def __init__(self, stage: str, name: str, message: str):
        super().__init__(f"rules.{stage}", f"Rule {name!r} for stage {stage!r}: {message}")
        self.stage = stage
        self.name = name


def rule(stage: str, name: str | None = None, params: Mapping[str, Param] | None = None,
         group: str = "rules") -> Callable[[Rule], Rule]:
    """Decorator registering a rule for ``stage`` under ``name`` (default: function name).

    ``params`` declares parameters the rule needs; they join the parameter tree under
    ``group`` and are validated, swept and documented like built-in ones. A custom rule
    loaded by module path is registered when its module is imported.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")

    def register(fn: Rule) -> Rule:
        key = name or fn.__name__
        if params:
            declare(group, params)
        fn.stage = stage  # type: ignore[attr-defined]
        fn.rule_name = key  # type: ignore[attr-defined]
        _REGISTRY[stage][key] = fn
        return fn

    return register


def available(stage: str) -> dict[str, Rule]:
    """Registered rules of a stage, by name."""
    _load_builtins()
    return dict(_REGISTRY[stage])


def summary(fn: Rule) -> str:
    """First line of a rule's docstring."""
    return (inspect.getdoc(fn) or "").strip().splitlines()[0] if fn.__doc__ else ""


def resolve(stage: str, name: str) -> Rule:
    """The rule called ``name`` for ``stage``: a registered name or ``package.module:function``."""
    _load_builtins()
    if stage not in STAGES:
        raise RuleError(stage, name, f"there is no such stage; stages are {', '.join(STAGES)}.")
    if name in _REGISTRY[stage]:
        return _REGISTRY[stage][name]
    if ":" not in name:
        known = ", ".join(sorted(_REGISTRY[stage]))
        raise RuleError(
            stage, name,
            f"no rule of that name. Built-in rules for this stage: {known};"
            " or give a custom rule as 'package.module:function'.",
        )
    module_name, _, func_name = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise RuleError(stage, name, f"module {module_name!r} not found ({exc}). Is it on the"
                        " Python path (installed, or in the current folder)?") from None
    except Exception as exc:  # a broken module is the user's file, not ours
        raise RuleError(stage, name, f"importing module {module_name!r} failed:"
                        f" {type(exc).__name__}: {exc}") from None
    fn = getattr(module, func_name, None)
    if fn is None or not callable(fn):
        raise RuleError(stage, name, f"module {module_name!r} has no function {func_name!r}.")
    check_signature(stage, name, fn)
    return fn


def check_signature(stage: str, name: str, fn: Rule) -> None:
    """A rule must accept two positional arguments: (state, params)."""
    try:
        sig = inspect.signature(fn)
        sig.bind(None, None)
    except TypeError:
        raise RuleError(stage, name, f"wrong signature {fn.__name__}{inspect.signature(fn)};"
                        " a rule takes two arguments: (state, params).") from None
    except ValueError:
        pass  # builtins without a signature: give them the benefit of the doubt


def selected(params: Parameters) -> dict[str, Rule]:
    """The rule chosen for every stage by ``params['rules.<stage>']``."""
    return {stage: resolve(stage, params[f"rules.{stage}"]) for stage in STAGES}


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("coprod_sim.rules.defaults")
        importlib.import_module("coprod_sim.rules.alternatives")
