"""Registry of rules by stage: a rule is selected by its registered name, never by a file.

``rules.<stage>`` keys of the parameter tree select a rule by the name it is registered
under (``coprod rules`` lists them). A rule is registered by the :func:`rule` decorator when
its module is imported, from a source the user trusts (:mod:`coprod_sim.rules.sources`):
the built-in modules, installed packages' ``coprod_sim.rules`` entry points, modules named
with ``--rules-module`` or ``COPROD_RULES_MODULES``. ``package.module:function`` is accepted
for a module already loaded that way, and typed on the command line (``--set``) it loads the
module; from a scenario file it never imports anything. Only functions registered as rules
are ever called: a module's other functions, or any other callable, are refused.

A custom rule declares its parameters next to itself (``@rule(..., params={...})``); they
join the parameter tree when the rule is selected (through a hook this module installs in
:mod:`coprod_sim.params`), so that a scenario or ``--set`` may use them.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from coprod_sim import params as tree
from coprod_sim.names import STAGES
from coprod_sim.params import TREE, Param, Parameters, add_rule_hook, declare
from coprod_sim.rules import sources
from coprod_sim.rules.base import RuleError, RuleOutputError
from coprod_sim.rules.sources import exception_text as _exception_text

Rule = Callable[..., Any]

__all__ = [
    "Rule", "RuleError", "RuleOutputError", "available", "check_signature", "custom_rule_files",
    "declared_params", "import_module", "parse_assignments", "resolve", "rule", "rule_label",
    "rule_modules",
    "selected", "summary", "use_modules", "what_went_wrong",
]

BUILT_IN = ("coprod_sim.rules.defaults", "coprod_sim.rules.alternatives")
_REGISTRY: dict[str, dict[str, Rule]] = {stage: {} for stage in STAGES}
_RESOLVED: dict[tuple[str, str], Rule] = {}  # 'module:function' selections already checked


def rule(stage: str, name: str | None = None, params: Mapping[str, Param] | str | None = None,
         group: str = "rules") -> Callable[[Rule], Rule]:
    """Decorator registering a rule for ``stage`` under ``name`` (default: function name).

    ``params`` declares the parameters the rule needs: a mapping of ``Param`` for a custom
    rule (they join the tree as ``<group>.<name>`` when the rule is selected, and are then
    validated, swept, listed by ``coprod rules`` and documented like built-in ones; give a
    custom rule a group of its own, ``group="crowding"``, so its keys read well), or the name
    of a group of the tree for a built-in rule whose parameters the tree declares. A rule's
    name must not clash with another rule's.
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
        fn.stage = stage  # type: ignore[attr-defined]
        fn.rule_name = key  # type: ignore[attr-defined]
        if isinstance(params, str):
            fn.rule_group = params  # type: ignore[attr-defined]
            fn.rule_params = {}  # type: ignore[attr-defined]
        else:
            fn.rule_group = group  # type: ignore[attr-defined]
            fn.rule_params = {f"{group}.{p}": s for p, s in (params or {}).items()}  # type: ignore[attr-defined]
        _REGISTRY[stage][key] = fn
        return fn

    return register


def _origin(fn: Rule) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _declare(fn: Rule) -> None:
    """The tree reads the parameters a selected custom rule declares."""
    by_group: dict[str, dict[str, Param]] = {}
    for key, s in (getattr(fn, "rule_params", None) or {}).items():
        group, _, pname = key.partition(".")
        by_group.setdefault(group, {})[pname] = s
    for group, entries in by_group.items():
        try:
            declare(group, entries)
        except ValueError as exc:
            raise RuleError(fn.stage, fn.rule_name, f"{exc} (by another rule).") from None


def available(stage: str) -> dict[str, Rule]:
    """Registered rules of a stage, by name (built-in, installed and user-named ones)."""
    _load_sources()
    return dict(_REGISTRY[stage])


def summary(fn: Rule) -> str:
    """First line of a rule's docstring."""
    doc = inspect.getdoc(fn)
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""


def declared_params(fn: Rule) -> dict[str, Param]:
    """Parameters a rule declares with ``@rule(..., params=...)``, by dotted key."""
    group = getattr(fn, "rule_group", None)
    own = dict(getattr(fn, "rule_params", {}) or {})
    if not own and group in TREE and group != "rules":
        return {f"{group}.{p}": s for p, s in TREE[group].items()}
    return own


def rule_label(fn: Rule) -> str:
    """How to name a rule in messages: its registered name, else ``module:function``."""
    return getattr(fn, "rule_name", None) or _origin(fn)


def _is_registered(fn: Any) -> bool:
    stage, key = getattr(fn, "stage", None), getattr(fn, "rule_name", None)
    return stage in _REGISTRY and _REGISTRY[stage].get(key) is fn


def resolve(stage: str, name: str, trusted: bool = False, unregistered: bool = False) -> Rule:
    """The rule called ``name`` for ``stage``: a registered name, or ``package.module:function``
    of a loaded module (``trusted``, typed by the user: the module is imported if need be).

    ``unregistered`` accepts a plain function for ``coprod rules check`` (checked, never run
    in a simulation); a selection never does.
    """
    _load_builtins()
    if stage not in STAGES:
        raise RuleError(stage, name, f"there is no such stage; stages are {', '.join(STAGES)}.")
    if not isinstance(name, str):
        raise RuleError(stage, repr(name), "a rule is named by a string.")
    fn = _REGISTRY[stage].get(name) or _RESOLVED.get((stage, name))
    if fn is None and ":" not in name:
        _load_sources()
        fn = _REGISTRY[stage].get(name)
        if fn is None:
            _unknown(stage, name)
    if fn is None:
        fn = _by_reference(stage, name, trusted, unregistered)
        if not _is_registered(fn):
            return fn  # a plain function to check: never cached, never selectable
        _RESOLVED[(stage, name)] = fn
    _declare(fn)
    return fn


def _unknown(stage: str, name: str) -> None:
    known = ", ".join(sorted(_REGISTRY[stage]))
    elsewhere = [s for s in STAGES if name in _REGISTRY[s]]
    hint = f" {name!r} is a rule for stage {elsewhere[0]!r}." if elsewhere else ""
    raise RuleError(
        stage, name,
        f"no rule of that name.{hint} Rules for this stage: {known}. A rule of your own is"
        " registered with @rule in a module loaded with --rules-module MODULE (or"
        f" {sources.ENVIRONMENT}=MODULE), or by an installed package's"
        f" {sources.ENTRY_POINT_GROUP} entry point; see docs/extending.md.")


def _by_reference(stage: str, name: str, trusted: bool, unregistered: bool = False) -> Rule:
    """``package.module:function``: a registered rule of a loaded (or, trusted, loadable) module."""
    module_name, _, func_name = name.partition(":")
    if not module_name or not func_name or not all(
            part.isidentifier() for part in [*module_name.split("."), *func_name.split(".")]):
        raise RuleError(stage, name, "a custom rule is written 'package.module:function', e.g."
                        " 'mymodule:my_rule' for function my_rule in mymodule.py.")
    _load_sources()
    module = sys.modules.get(module_name)
    if module is None:
        if not trusted:
            raise RuleError(stage, name, f"module {module_name!r} is not loaded, and a scenario file"
                            " or a parameter set never imports code. Load it with --rules-module"
                            f" {module_name} (or {sources.ENVIRONMENT}={module_name}), or install it"
                            f" as a package with a {sources.ENTRY_POINT_GROUP} entry point; then"
                            " select its rule by name.")
        module = sources.import_user_module(stage, name, module_name)
    fn: Any = module
    for attr in func_name.split("."):
        fn = getattr(fn, attr, None)
    if fn is None:
        _no_function(stage, name, module, module_name, func_name)
    if not callable(fn):
        raise RuleError(stage, name, f"{name!r} is a {type(fn).__name__}, not a function.")
    if unregistered and not _is_registered(fn):
        check_signature(stage, name, fn)
        return fn
    if not _is_registered(fn):
        raise RuleError(stage, name, f"{func_name!r} is not registered as a rule: only functions"
                        f" declared with @rule({stage!r}) (from coprod_sim.rules import rule) can be"
                        " selected, so that no other function is ever called with the town's state.")
    if fn.stage != stage:
        raise RuleError(stage, name, f"this function is declared with @rule({fn.stage!r}), a rule for"
                        f" stage {fn.stage!r}; select it with rules.{fn.stage} instead.")
    check_signature(stage, name, fn)
    return fn


def _no_function(stage: str, name: str, module: Any, module_name: str, func_name: str) -> None:
    own = sorted(k for k, v in vars(module).items() if inspect.isfunction(v)
                 and v.__module__ == module.__name__ and not k.startswith("_"))
    close = difflib.get_close_matches(func_name, own, n=1)
    listing = (f" Did you mean {close[0]!r}?" if close else
               f" Functions it defines: {', '.join(own[:10])}{', ...' if len(own) > 10 else ''}."
               if own else " It defines no functions.")
    raise RuleError(stage, name, f"module {module_name!r} ({_where(module)}) has no function"
                    f" {func_name!r}.{listing}")


def import_module(module_name: str):
    """Import a module of custom rules the user named (registering its ``@rule`` functions)."""
    return sources.import_user_module("?", module_name, module_name)


def use_modules(names: Iterable[str]) -> None:
    """Load the modules of rules named with ``--rules-module`` (RuleError if one fails).

    The user asked for these rules by name, so their parameters join the tree now, for a
    command that reads them without selecting the rule (``coprod report`` of a sweep).
    """
    names = list(names)
    sources.use_modules(names)
    for rules in _REGISTRY.values():
        for fn in rules.values():
            if getattr(fn, "__module__", None) in names:
                _declare(fn)


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``--set key=value`` strings as validated overrides, with the rules layer in place.

    :func:`coprod_sim.params.parse_assignments` finds the rule a ``rules.STAGE=...`` value names
    through the hook this module installs (params may not import rules); the command line
    calls this function so that the hook is there, and a custom rule's own keys can be set.
    """
    return tree.parse_assignments(items)


def _where(module) -> str:
    file = getattr(module, "__file__", None)
    return file or "built in"


def rule_modules(params: Parameters) -> tuple[str, ...]:
    """Modules of the custom rules ``params`` selects: what a worker process imports first."""
    mods = set()
    for fn in selected(params).values():
        module = getattr(fn, "__module__", "") or ""
        if not module.startswith("coprod_sim.") and module != "__main__":
            mods.add(module)
    return tuple(sorted(mods))


def custom_rule_files() -> list[Path]:
    """Single-file modules of the custom rules registered so far, outside the installation.

    What a remote Dask cluster needs: ``client.upload_file(path)`` for each makes the rules
    importable on workers started in another folder.
    """
    files = set()
    modules = {getattr(fn, "__module__", "") for rules in _REGISTRY.values() for fn in rules.values()}
    for name in modules:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is None or file is None or "." in name or not file.endswith(".py"):
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
        raise RuleError(stage, name, "it has no Python signature; a rule is a Python function"
                        " taking two positional arguments: (state, params).") from None
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


def _on_rule_key(key: str, value: Any, strict: bool, trusted: bool) -> None:
    """Params hook: find the rule a ``rules.<stage>`` value names (see module docstring)."""
    stage = key.partition(".")[2]
    if stage not in STAGES or not isinstance(value, str):
        return  # not a selection: the tree's own validation reports it
    try:
        resolve(stage, value, trusted)
    except RuleError:
        if strict:
            raise


add_rule_hook(_on_rule_key)

_loaded = False


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILT_IN:
            importlib.import_module(module)


def _load_sources() -> None:
    """Built-in rules, then those of installed packages and of modules the user configured."""
    _load_builtins()
    sources.load_entry_points()
    sources.load_configured()
