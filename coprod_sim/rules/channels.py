"""Channels of selection bias, and how each is switched off: one table, read by ``coprod explain``.

A channel is a mechanism through which the advantaged come to take part more (or less). It
declares how it is switched off as parameter overrides, so a counterfactual is an ordinary run
on the same random draws. The built-in channels are declared below; a researcher's rule
declares its own next to the rule, with one call::

    from coprod_sim.rules.channels import Channel, declare_channel
    declare_channel(Channel("crowding", "crowding out by the regulars",
                            off={"crowding.strength": 0.0},
                            when={"rules.participation": "mymodule:crowded_choice"}))

``when`` limits a channel to runs that select a given rule (a channel of a rule that is not
used would contribute nothing). Keys are checked against the parameter tree when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Channel:
    """A mechanism of the model, and the parameter values that switch it off."""

    name: str  # short identifier: endowments, networks, ...
    label: str  # plain words for reports
    off: Mapping[str, Any]  # dotted parameter overrides that switch the channel off
    doc: str = ""  # what "off" means, one sentence
    when: Mapping[str, Any] = field(default_factory=dict)  # applies only if these values hold

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether the channel exists in a run with these parameter values."""
        return all(values.get(k) == v for k, v in self.when.items())


CHANNELS: dict[str, Channel] = {}
"""Every declared channel, by name, in declaration order (the order reports list them)."""


def declare_channel(channel: Channel) -> Channel:
    """Add a channel to the table (idempotent for an identical declaration)."""
    old = CHANNELS.get(channel.name)
    if old is not None and old != channel:
        raise ValueError(f"a channel named {channel.name!r} is already declared differently")
    CHANNELS[channel.name] = channel
    return channel


# ---------------------------------------------------------------------------- built-in channels
# Sources of each mechanism are in the docstrings of the rules and parameters they switch off
# (coprod_sim/rules/defaults.py, coprod_sim/params.py).
declare_channel(Channel(
    "endowments", "initial endowments by status",
    {"population.efficacy_ses_effect": 0.0, "population.competence_ses_effect": 0.0,
     "population.resources_ses_effect": 0.0, "population.trust_ses_effect": 0.0},
    "self-efficacy, civic competence, spare resources and trust no longer rise with status"))
declare_channel(Channel(
    "networks", "networks and recruitment through ties",
    {"citizens.peer_weight": 0.0, "network.degree_advantage_effect": 0.0,
     "network.clustering_advantage_effect": 0.0, "network.homophily": 0.0},
    "ties no longer follow status or advantage, and active ties no longer draw citizens in"))
declare_channel(Channel(
    "screening", "administrations' screening",
    {"administration.screening_individual": 0.0, "administration.screening_group": 0.0,
     "administration.screening_collective": 0.0, "administration.reliability_ses_weight": 0.0},
    "administrations accept every offer they have room for and judge reliability by competence,"
    " not status"))
declare_channel(Channel(
    "rationing", "rationing by capacity",
    {"administration.capacity_individual": 1000.0, "administration.capacity_group": 1000.0,
     "administration.capacity_collective": 1000.0},
    "capacity of one collaboration per resident per month in every mode: no offer waits"))
declare_channel(Channel(
    "feedback", "self-efficacy feedback",
    {"citizens.feedback_strength": 0.0},
    "successes, failures and rejections no longer change self-efficacy or trust"))
declare_channel(Channel(
    "quality", "service-quality shortfall",
    {"citizens.quality_weight": 0.0},
    "good local services no longer lower the wish to coproduce (no shortfall effect)"))
declare_channel(Channel(
    "levels", "who gets designer and initiator roles",
    {"levels.demand_designer": 0.0, "levels.demand_initiator": 0.0, "levels.organising_weight": 0.0},
    "the designer and initiator levels (and co-design seats) no longer draw on self-efficacy,"
    " civic skills, spare time or active ties: whoever offers is as likely to design or initiate"))
