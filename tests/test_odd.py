"""docs/ODD.md is a complete ODD+D description, true to the parameter tree and rule registry."""

from __future__ import annotations

import numpy as np

from coprod_sim import params as P
from coprod_sim.docgen import odd
from coprod_sim.names import STAGES
from coprod_sim.rules import registry


def test_odd_document_is_complete_and_up_to_date():
    problems = odd.check()
    assert problems == [], "docs/ODD.md:\n" + "\n".join(problems) + \
        "\n(fix the text, then run .venv/bin/python -m coprod_sim.docgen.odd)"


def test_every_parameter_and_rule_is_in_the_generated_tables():
    text = odd.ODD_PATH.read_text()
    for key in P.iter_keys():
        assert f"| `{key}` |" in text
    for stage in STAGES:
        for name in registry.available(stage):
            assert f"**`{name}`**" in text


def test_a_parameter_added_without_documentation_fails(monkeypatch):
    monkeypatch.setitem(P.TREE["citizens"], "boredom_weight",
                        P.Param(0.5, "Effect of boredom on the propensity to take part", "logit", 0.0, 5.0))
    problems = odd.check()
    assert any("`citizens.boredom_weight` is not described" in p for p in problems)
    assert any("out of date" in p for p in problems)


def test_a_parameter_without_a_description_fails(monkeypatch):
    monkeypatch.setitem(P.TREE["citizens"], "efficacy_weight",
                        P.Param(11.0, " ", "logit", 0.0, 20.0))
    assert any("`citizens.efficacy_weight` has no description" in p for p in odd.check())


def test_a_rule_added_without_documentation_fails(monkeypatch):
    def lucky_outcome(state, params):
        """Every episode succeeds: p = 1."""
        return np.ones(state.n)

    registry.available("outcome")  # built-ins loaded before we add ours
    monkeypatch.setitem(registry._REGISTRY["outcome"], "lucky_outcome", lucky_outcome)
    problems = odd.check()
    assert any("rule `lucky_outcome` (stage outcome) is not described" in p for p in problems)


def test_a_missing_odd_section_fails():
    text = odd.ODD_PATH.read_text().replace("### II.v Individual prediction", "### II.v Crystal balls")
    assert "ODD+D section 'Individual prediction' is missing" in odd.check(text)


def test_generated_blocks_are_refilled_not_duplicated():
    text = odd.ODD_PATH.read_text()
    stale = text.replace("| `citizens.efficacy_weight` |", "| `citizens.efficacy_wait` |")
    assert odd.check(stale) != []
    assert odd.render(stale) == text
    assert odd.render(text) == text
