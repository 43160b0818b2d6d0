"""Support for the rules tests: modules of custom rules written into a fresh folder."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coprod_sim import params as params_module
from coprod_sim.rules import registry, sources

COPROD = str(Path(sys.executable).with_name("coprod"))


@pytest.fixture
def custom(tmp_path, monkeypatch) -> Iterator[Callable[..., str]]:
    """``custom(source, name=None) -> module name``: a module of rules on the import path
    (not imported: load it with ``registry.use_modules([name])``, as ``--rules-module`` does).

    Whatever the modules register (rules, parameters) is undone afterwards, so the tree and
    the registry other tests see are the built-in ones.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    tree = {group: dict(entries) for group, entries in params_module.TREE.items()}
    rules = {stage: dict(entries) for stage, entries in registry._REGISTRY.items()}
    resolved = dict(registry._RESOLVED)
    trusted = set(sources._TRUSTED)
    names: list[str] = []

    def write(source: str, name: str | None = None) -> str:
        name = name or f"custom_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        names.append(name)
        return name

    yield write
    params_module.TREE.clear()
    params_module.TREE.update(tree)
    for stage, entries in rules.items():
        registry._REGISTRY[stage].clear()
        registry._REGISTRY[stage].update(entries)
    registry._RESOLVED.clear()
    registry._RESOLVED.update(resolved)
    sources._TRUSTED.clear()
    sources._TRUSTED.update(trusted)
    for name in names:
        sys.modules.pop(name, None)


CROWDING = '''
import numpy as np

from coprod_sim.params import Param
from coprod_sim.rules import rule
from coprod_sim.rules.defaults import propensity_utilities


@rule("participation", "{name}", group="{group}", params={{
    "strength": Param(2.0, "Motivation an invitation takes away", "logit", 0.0, 10.0),
}})
def crowding_out(state, params):
    """Crowding-out of the less educated by an invitation."""
    v = propensity_utilities(state, params)
    c = state.citizens
    crowd = params["{group}.strength"] * c.invited * (1.0 - c.ses)
    ev = np.exp(np.minimum(v - crowd[:, None], 50.0))
    return ev / (1.0 + ev.sum(axis=1, keepdims=True))
'''
"""A module declaring a participation rule with a parameter ``<group>.strength``."""


def crowding_source(name: str = "crowding_test", group: str = "crowdtest") -> str:
    return CROWDING.format(name=name, group=group)
