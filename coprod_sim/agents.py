"""Mesa agents: citizens as thin views on the model's arrays, and administrations.

The arrays are the truth; an agent reads and writes its own row. Citizen views are made
only when asked for (``model.citizens[i]``), so a city of a million costs nothing extra.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING

import mesa
import numpy as np

from coprod_sim.names import MODES, NO_MODE
from coprod_sim.town.population import Citizens

if TYPE_CHECKING:
    from coprod_sim.model import CoproductionModel


def _row_property(array_name: str, doc: str) -> property:
    def get(self):
        return getattr(self._arrays, array_name)[self.index].item()

    def set(self, value):
        getattr(self._arrays, array_name)[self.index] = value

    return property(get, set, doc=doc)


class Citizen(mesa.Agent):
    """One citizen; every attribute of :class:`~coprod_sim.town.population.Citizens` reads its row.

    ``citizen.self_efficacy = 0.9`` writes into the model's array, so the next step sees it.
    """

    def __init__(self, model: CoproductionModel, index: int):
        super().__init__(model)
        self.index = int(index)

    @property
    def _arrays(self) -> Citizens:
        return self.model.state.citizens

    @property
    def active_mode(self) -> str | None:
        """Name of the mode the citizen is active in this month, or None."""
        m = self.mode
        return None if m == NO_MODE else MODES[m]

    def neighbours(self) -> list[Citizen]:
        """The citizen's social ties, as citizen views."""
        net = self.model.state.network
        ties = net.indices[net.indptr[self.index]:net.indptr[self.index + 1]]
        return [self.model.citizens[int(j)] for j in ties]

    def __repr__(self) -> str:
        return (f"Citizen({self.index}, neighbourhood={self.neighbourhood}, "
                f"self_efficacy={self.self_efficacy:.3f}, mode={self.active_mode})")


for _f in fields(Citizens):
    if _f.name != "activity_by_mode":
        setattr(Citizen, _f.name, _row_property(_f.name, f"Citizen's {_f.name.replace('_', ' ')}."))


class CitizenViews(Sequence):
    """``model.citizens``: indexable like a list; views are created on first access."""

    def __init__(self, model: CoproductionModel):
        self._model = model
        self._views: dict[int, Citizen] = {}

    def __len__(self) -> int:
        return self._model.state.citizens.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"citizen {i} out of range (0..{len(self) - 1})")
        view = self._views.get(i)
        if view is None:
            view = self._views[i] = Citizen(self._model, i)
        return view

    def __iter__(self) -> Iterator[Citizen]:
        return (self[i] for i in range(len(self)))


class Administration(mesa.Agent):
    """An administration serving some neighbourhoods; its state lives in the model's arrays."""

    def __init__(self, model: CoproductionModel, index: int):
        super().__init__(model)
        self.index = int(index)

    @property
    def _arrays(self):
        return self.model.state.administrations

    risk_aversion = _row_property("risk_aversion", "Current risk aversion, learned from outcomes.")
    culture = _row_property("culture", "Initial risk aversion, which learning is anchored to.")
    staff_incentives = _row_property("staff_incentives", "Incentives staff have to work with citizens.")
    residents = _row_property("residents", "Citizens served.")
    successes = _row_property("successes", "Successful episodes this month.")
    failures = _row_property("failures", "Failed episodes this month.")

    @property
    def capacity(self) -> dict[str, int]:
        """Collaborations supported per month, by mode."""
        return dict(zip(MODES, self._arrays.capacity[self.index].tolist(), strict=True))

    @property
    def neighbourhoods(self) -> np.ndarray:
        return np.flatnonzero(self.model.state.neighbourhoods.administration == self.index)

    def __repr__(self) -> str:
        return f"Administration({self.index}, risk_aversion={self.risk_aversion:.3f})"
