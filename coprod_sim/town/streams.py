"""The run's random streams: one independent generator per purpose, all from one seed.

One stream per purpose means that a policy which changes what one stage draws leaves the
other stages' draws alone (common random numbers for paired comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STREAMS = ("population", "network", "organisers", "outreach", "decision", "screening",
           "outcome", "rules", "level", "sortition", "digital")
"""New streams are appended: each stream's seed depends on its position, so appending leaves
every existing stream's draws as they were."""


@dataclass
class Streams:
    """One independent random generator per purpose, all derived from one seed."""

    population: np.random.Generator
    network: np.random.Generator
    organisers: np.random.Generator
    outreach: np.random.Generator
    decision: np.random.Generator
    screening: np.random.Generator
    outcome: np.random.Generator
    rules: np.random.Generator
    level: np.random.Generator  # the level of each offer
    sortition: np.random.Generator  # co-design seats: order keys and acceptance draws
    digital: np.random.Generator  # digital access, drawn once

    @classmethod
    def from_seed(cls, seed: int | np.random.SeedSequence) -> Streams:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        # The children SeedSequence.spawn would give a fresh root, built without spawning:
        # spawn() advances the root, so one seed object would seed two runs differently.
        children = (np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, i),
                                           pool_size=root.pool_size) for i in range(len(STREAMS)))
        return cls(*(np.random.default_rng(s) for s in children))
