"""The page's controls, generated from the parameter tree (nothing here restates a default).

Every parameter flagged ``slider=True`` in :mod:`coprod_sim.params` becomes a control whose
starting value, bounds, choices and help text come from the tree (or from the scenario's
base parameters). The model takes a lever as the keyword ``group__name`` for the dotted key
``group.name`` (Mesa's convention).
"""

from __future__ import annotations

import math
from typing import Any

from coprod_sim.model import CoproductionModel
from coprod_sim.names import MODES
from coprod_sim.params import TREE, Param, Parameters, spec

FEEDBACK_KEY = "citizens.feedback_strength"
FEEDBACK_OFF = "feedback_off"
"""Name of the page's switch that sets ``citizens.feedback_strength`` to 0 (the comparison run)."""

_NICE = (1.0, 2.0, 5.0)


def lever_keys() -> list[str]:
    """Dotted keys of the parameters meant for the page, in the tree's order."""
    return [f"{group}.{name}" for group, params in TREE.items()
            for name, p in params.items() if p.slider]


def kwarg_name(key: str) -> str:
    """``group.name`` -> ``group__name``, the keyword ``CoproductionModel`` accepts."""
    return key.replace(".", "__")


def label(key: str) -> str:
    """A short label from the key's name: ``policy.effort_group`` -> ``Effort (group)``."""
    words = key.partition(".")[2].split("_")
    if len(words) > 1 and words[-1] in MODES:
        return f"{' '.join(words[:-1]).capitalize()} ({words[-1]})"
    return " ".join(words).capitalize()


def slider_step(p: Param, value: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving 50 to 1,000 positions on the
    slider, the coarsest one on whose grid ``value`` lies (so the control starts exactly on
    the tree's or the scenario's value)."""
    span = float(p.high) - float(p.low)
    if span <= 0:
        return 1.0
    candidates = []
    for exp in range(math.floor(math.log10(span / 1000)), math.ceil(math.log10(span / 50)) + 1):
        for m in _NICE:
            step = m * 10.0 ** exp
            if span / 1000 * (1 - 1e-9) <= step <= span / 50 * (1 + 1e-9):  # float-safe bounds
                candidates.append(step)
    candidates.sort(reverse=True)
    for step in candidates:
        if p.kind is int and not float(step).is_integer():
            continue
        k = (value - float(p.low)) / step
        if abs(k - round(k)) < 1e-6:
            return float(step)
    return float(candidates[-1]) if p.kind is float else 1.0


def help_text(key: str) -> str:
    """The tree's description with what is allowed, for the page's help."""
    p = spec(key)
    unit = "" if p.unit in ("-", "") else f" ({p.unit})"
    return f"{p.description}. Allowed: {p.allowed()}{unit}."


def control(key: str, value: Any) -> dict[str, Any]:
    """The control for dotted ``key`` starting at ``value``: its type (Select, Checkbox,
    SliderInt, SliderFloat, InputText), label, bounds, step and choices."""
    p = spec(key)
    entry: dict[str, Any] = {"label": label(key), "value": value}
    if p.choices is not None:
        entry.update(type="Select", values=list(p.choices))
    elif p.kind is bool:
        entry.update(type="Checkbox")
    elif p.kind in (int, float):
        if p.low is None or p.high is None:
            raise ValueError(f"{key} is flagged slider=True but has no bounds to make a slider from")
        step = slider_step(p, float(value))
        if p.kind is int:
            entry.update(type="SliderInt", min=int(p.low), max=int(p.high), step=int(step))
        else:
            entry.update(type="SliderFloat", min=float(p.low), max=float(p.high), step=step)
    else:
        entry.update(type="InputText")
    return entry


class TownModel(CoproductionModel):
    """The page's model: :class:`CoproductionModel` plus the "virtuous cycle off" switch.

    Reset rebuilds it with the controls' values as keywords (``group__name``).
    """

    def __init__(self, params: Parameters | None = None, *, feedback_off: bool = False, **kwargs: Any):
        if feedback_off:
            kwargs[kwarg_name(FEEDBACK_KEY)] = 0.0
        super().__init__(params, **kwargs)
        self.feedback_off = feedback_off
