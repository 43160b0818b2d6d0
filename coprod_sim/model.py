"""``CoproductionModel``: the Mesa model around the vectorised kernel."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import mesa
import numpy as np
import pandas as pd

from coprod_sim.agents import Administration, CitizenViews
from coprod_sim.month.kernel import Kernel
from coprod_sim.names import OUTCOMES
from coprod_sim.outcomes.record import record
from coprod_sim.params import Parameters
from coprod_sim.town.network import to_networkx
from coprod_sim.town.streams import Streams


def as_parameters(params: Parameters | Mapping[str, Any] | None = None, **overrides: Any
                  ) -> Parameters:
    """Parameters from a Parameters object or a dotted-key mapping, plus keyword overrides.

    Keywords use ``group__name`` for ``group.name`` (e.g. ``policy__outreach="universal"``),
    which is how the teaching page (coprod_sim/viz/controls.py) passes slider values, as
    Mesa's SolaraViz does.
    """
    base = params if isinstance(params, Parameters) else Parameters(params or {})
    return base.replace(**overrides) if overrides else base


class CoproductionModel(mesa.Model):
    """Citizens coproducing public services with administrations, month by month.

    ``CoproductionModel()`` is the default town; ``CoproductionModel(params, seed=3)`` or
    ``CoproductionModel(policy__outreach="universal")`` vary it. Each ``step()`` is a month.
    ``model.citizens[i]`` and ``model.administrations[a]`` are Mesa agents viewing the arrays
    in ``model.state``; ``model.timeseries()`` gives the recorded outcomes.
    """

    def __init__(self, params: Parameters | Mapping[str, Any] | None = None, *,
                 seed: int | np.random.SeedSequence | None = None,
                 rules: Mapping[str, Callable] | None = None,
                 record_neighbourhoods: bool = True, rng: Any = None,
                 accelerate: bool | None = None, **overrides: Any):
        self.params = as_parameters(params, **overrides)
        if seed is None and rng is not None:  # Mesa's own name, as mesa.batch_run passes it
            seed = int(rng.integers(2**63)) if isinstance(rng, np.random.Generator) else rng
        seed = self.params.simulation.seed if seed is None else seed
        super().__init__(rng=seed if isinstance(seed, int) else np.random.default_rng(seed))
        self.seed = seed
        # accelerate: None uses the compiled path when available (same results; see kernel.py).
        self.kernel = Kernel(self.params, Streams.from_seed(seed), rules, accelerate=accelerate)
        self.state = self.kernel.state
        self.administrations = [Administration(self, a) for a in range(len(self.state.administrations))]
        self.citizens = CitizenViews(self)
        self.latest: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={col: (lambda m, col=col: m.latest[col]) for col in OUTCOMES})
        self._record_neighbourhoods = record_neighbourhoods
        self._neighbourhood_records: list[dict[str, np.ndarray]] = []
        self._collect()

    def step(self) -> None:
        """One month: outreach, decisions, screening, outcomes, feedback, service quality."""
        self.kernel.step()
        self._collect()
        if self.state.step >= self.params.simulation.steps:
            self.running = False

    def _collect(self) -> None:
        self.latest, hood_rows = record(self.state, self.params, accelerate=self.kernel.accelerate,
                                        neighbourhoods=self._record_neighbourhoods)
        self.datacollector.collect(self)
        if hood_rows is not None:  # kept as arrays; one DataFrame is built when asked for
            self._neighbourhood_records.append(hood_rows)

    def timeseries(self) -> pd.DataFrame:
        """One row per month (month 0 is the initial state), one column per outcome."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df["step"] = df["step"].astype(int)
        return df

    def neighbourhood_timeseries(self) -> pd.DataFrame:
        """Participation over the past year and service quality, per neighbourhood and month."""
        if not self._neighbourhood_records:
            return pd.DataFrame()
        records = self._neighbourhood_records
        return pd.DataFrame({col: np.concatenate([r[col] for r in records]) for col in records[0]})

    def graph(self):
        """The social network as a networkx graph with neighbourhood and SES on the nodes."""
        return to_networkx(self.state.network, self.state.citizens)
