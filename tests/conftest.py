"""Shared test settings: hypothesis profiles and small towns."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def small() -> dict:
    """Overrides for a small, quick town."""
    return {"population.n_citizens": 400, "population.n_neighbourhoods": 4, "simulation.steps": 24}
