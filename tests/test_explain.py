"""coprod explain: counterfactual runs on common random numbers, contributions that add up."""

import numpy as np
import pytest
from typer.testing import CliRunner

from coprod_sim.analysis.explain import ExplainError, choose_channels, explain
from coprod_sim.analysis.explain_report import contributions_table, write_report
from coprod_sim.analysis.scenarios import analysis_scenario
from coprod_sim.cli.app import app
from coprod_sim.params import Parameters
from coprod_sim.rules.channels import CHANNELS, Channel, declare_channel
from coprod_sim.rules.registry import use_modules
from tests import rules_support
from tests.rules_support import crowding_source

TINY = {"population.n_citizens": 300, "population.n_neighbourhoods": 4, "simulation.steps": 18}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    scenario = analysis_scenario(None, replications=3, overrides=TINY)
    out = tmp_path_factory.mktemp("explain")
    return explain(scenario, out, channels=["endowments", "feedback", "quality"], workers=1,
                   progress=False)


def test_contributions_add_up_to_the_total_in_every_replication(result):
    for d in result.decompositions.values():
        keep = d.usable
        assert keep.any()
        np.testing.assert_allclose(d.phi[:, keep].sum(axis=0), (d.full - d.none)[keep], atol=1e-12)
        table = contributions_table(d)
        body = table[~table["channel"].isin(["none", "full", "total"])]
        total = table.set_index("channel").loc["total", "contribution"]
        assert body["contribution"].sum() == pytest.approx(total, abs=1e-12)


def test_each_subset_is_an_ordinary_run_on_the_same_seeds(result):
    from coprod_sim.run import run

    d = result.decompositions["concentration_index"]
    off = {**TINY, **CHANNELS["endowments"].off}  # subset 0b110: feedback and quality on
    again = run(Parameters(off), 0, replication=1, record_neighbourhoods=False)
    assert again.summary["last_quarter_mean"]["concentration_index"] == d.values[0b110][1]


def test_report_files_are_written(result):
    files = write_report(result)
    for key in ("report", "table", "waterfall_concentration_index"):
        assert files[key].exists()
    text = files["report"].read_text()
    assert "initial endowments by status" in text and "95%" in text


def test_unknown_or_conflicting_channels_are_refused():
    with pytest.raises(ExplainError, match="no channel 'endowment'"):
        choose_channels(dict(Parameters()), ["endowment"])
    declare_channel(Channel("clash_test", "a clash", {"citizens.feedback_strength": 0.5}))
    try:
        with pytest.raises(ExplainError, match=r"both set citizens\.feedback_strength"):
            choose_channels(dict(Parameters()), ["feedback", "clash_test"])
    finally:
        CHANNELS.pop("clash_test")


def test_a_channel_applies_only_with_its_rule_and_already_off_is_said():
    declare_channel(Channel("rule_bound_test", "x", {"citizens.trust_weight": 0.0},
                            when={"rules.outreach": "nobody_such_rule"}))
    try:
        chosen, _ = choose_channels(dict(Parameters()))
        assert "rule_bound_test" not in [c.name for c in chosen]
    finally:
        CHANNELS.pop("rule_bound_test")
    _, already = choose_channels(dict(Parameters({"citizens.feedback_strength": 0.0})))
    assert already == ["feedback"]


def test_cli_refuses_an_unknown_channel_with_exit_2(tmp_path):
    res = CliRunner().invoke(app, ["explain", "--channels", "endowmnts", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "no channel 'endowmnts'" in res.output


custom = rules_support.custom  # the fixture writing modules of custom rules


def test_a_researchers_rule_declares_its_channel_and_is_decomposed(custom, tmp_path):
    source = crowding_source("crowding_ex", "crowdex") + '''
from coprod_sim.rules.channels import Channel, declare_channel

declare_channel(Channel("crowding", "crowding out by invitations", {"crowdex.strength": 0.0},
                        "an invitation no longer takes motivation away from the less educated",
                        when={"rules.participation": "crowding_ex"}))
'''
    use_modules([custom(source)])
    try:
        overrides = {**TINY, "rules.participation": "crowding_ex", "crowdex.strength": 8.0,
                     "policy.outreach": "universal", "policy.outreach_rate": 0.3}
        scenario = analysis_scenario(None, replications=2, overrides=overrides)
        chosen, _ = choose_channels(dict(scenario.base_parameters()))
        assert "crowding" in [c.name for c in chosen]
        result = explain(scenario, tmp_path, channels=["crowding", "endowments"], workers=1,
                         progress=False, measures=["concentration_index"])
        d = result.decompositions["concentration_index"]
        np.testing.assert_allclose(d.phi.sum(axis=0), d.full - d.none, atol=1e-12)
        assert not np.array_equal(d.values[0b01], d.values[0b00])  # the channel changes the runs
    finally:
        CHANNELS.pop("crowding", None)


def test_a_policy_and_a_design_point_of_a_sweep_can_be_explained():
    from coprod_sim.analysis.explain import starting_values
    from coprod_sim.scenario.loader import load_scenario

    scenario = load_scenario("scenarios/discovery_lhs.toml")
    start = starting_values(scenario, "targeted_outreach", 7)
    assert start["policy.outreach"] == "targeted_efficacy"
    assert start["policy.capacity_scale"] == scenario.design.points[7]["policy.capacity_scale"]
    with pytest.raises(ExplainError, match="design point 200 does not exist"):
        starting_values(scenario, "baseline", 200)
    with pytest.raises(ExplainError, match="no policy 'nosuch'"):
        starting_values(scenario, "nosuch")
