"""Time estimates: CPU work measured once, the machine's load read each time."""

from __future__ import annotations

import json
import time

import pytest

from coprod_sim.scenario.loader import load_scenario
from coprod_sim.sweep import estimate


@pytest.fixture
def scenario(tmp_path, monkeypatch):
    monkeypatch.setattr(estimate, "_CALIBRATION", (0.01, 1e-6, 0.001, 2e-7))  # no measuring here
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nsteps = 120\nreplications = 20\n[parameters]\n'
                    "population.n_citizens = 3000\n")
    return load_scenario(path)


def test_more_competing_processes_mean_a_longer_estimate(scenario):
    times = [estimate.estimate_seconds(scenario, 2, others=k, factor=1.0) for k in (0.0, 2.0, 6.0)]
    assert times[0] < times[1] < times[2]


def test_two_workers_halve_the_work_only_when_two_cores_are_free(scenario, monkeypatch):
    monkeypatch.setattr("coprod_sim.sweep.executors.default_workers", lambda: 2)
    one, two = (estimate.estimate_seconds(scenario, w, others=0.0, factor=1.0, command=False)
                for w in (1, 2))
    work = 20 * (estimate.run_seconds(3000, 120) + estimate.RUN_OVERHEAD_SECONDS)
    assert one == pytest.approx(work + estimate.START_SECONDS)
    assert two == pytest.approx(work / 2 + estimate.START_SECONDS)
    busy = estimate.estimate_seconds(scenario, 2, others=2.0, factor=1.0, command=False)  # 4 on 2
    assert busy == pytest.approx(work + 1.5 * estimate.START_SECONDS)
    costly = estimate.estimate_seconds(scenario, 2, others=0.0, factor=2.0, command=False)
    assert costly == pytest.approx(two + 20 * estimate.run_seconds(3000, 120) / 2)
    command = estimate.estimate_seconds(scenario, 2, others=0.0, factor=1.0)
    assert command == pytest.approx(two + estimate.COMMAND_SECONDS)


def test_the_probe_and_the_load_average_give_the_competing_processes(monkeypatch):
    monkeypatch.setattr(estimate.os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    assert estimate.other_processes(2, slowdown=1.0) == pytest.approx(0.5)  # a free core: the average
    assert estimate.other_processes(2, slowdown=3.0) == pytest.approx(5.0)  # busy: (3 x 2) - 1
    assert estimate.probe_slowdown(0.02) >= 1.0


def test_a_calibration_in_wall_seconds_from_an_older_version_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = estimate._cache_path()
    path.parent.mkdir(parents=True)
    old = {"key": estimate._cache_key(), "calibration": [1, 1, 1, 1], "measured": time.time()}
    path.write_text(json.dumps(old))
    assert estimate._cached() is None
    path.write_text(json.dumps({**old, "version": estimate.CALIBRATION_VERSION}))
    assert estimate._cached() == (1.0, 1.0, 1.0, 1.0)


def test_the_scenarios_own_cost_is_probed_once_on_its_points(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert estimate.scenario_factor(scenario) == 1.0  # the default town at another size
    path = tmp_path / "seats.toml"
    path.write_text('name = "seats"\nsteps = 24\n[parameters]\npopulation.n_citizens = 300\n'
                    '[policies.lottery]\npolicy.codesign_seats = 20.0\npolicy.seat_selection = "sortition"\n')
    seats = load_scenario(path)
    factor = estimate.scenario_factor(seats, months=2, citizens=300)
    assert 0.5 <= factor <= 3.0

    def never(*args):
        raise AssertionError("probed again")

    monkeypatch.setattr(estimate, "_probe_factor", never)
    assert estimate.scenario_factor(seats, months=2, citizens=300) == factor  # kept
