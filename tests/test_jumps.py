"""Skipping uniforms by jumping PCG64 ahead gives NumPy's own stream (coprod_sim.month.jumps)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coprod_sim.month import jumps


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), gaps=st.lists(st.integers(0, 2**36), min_size=1, max_size=8))
def test_skip_lands_where_numpy_advance_does(seed, gaps):
    """After any gaps skipped, the next uniforms are those of NumPy's ``advance``."""
    ours, numpy_ = np.random.default_rng(seed), np.random.default_rng(seed)
    stream = jumps.stream(ours)
    assert stream[2].shape[0] > 0  # a PCG64 of this NumPy can be jumped
    for gap in gaps:
        jumps.skip(stream, gap)
        numpy_.bit_generator.advance(gap)
        assert ours.random(3).tolist() == numpy_.random(3).tolist()


@pytest.mark.parametrize("gap", [1, 5, 63, 64, 65, 1000])
def test_skip_equals_drawing_and_dropping(gap):
    """A jump of ``gap`` leaves the generator where ``gap`` draws would."""
    ours, drawn = np.random.default_rng(7), np.random.default_rng(7)
    jumps.skip(jumps.stream(ours), gap)
    drawn.random(gap)
    assert ours.bit_generator.state == drawn.bit_generator.state


def test_other_bit_generators_draw_and_drop():
    """A generator that is not a PCG64 gets no table: skip draws, with the same result."""
    ours, drawn = np.random.Generator(np.random.Philox(3)), np.random.Generator(np.random.Philox(3))
    stream = jumps.stream(ours)
    assert stream[2].shape[0] == 0
    jumps.skip(stream, 17)
    drawn.random(17)
    assert ours.random() == drawn.random()


def test_checking_a_generator_leaves_it_as_it_was():
    """Building a stream's table (which tests a jump on it) does not move the stream."""
    g, reference = np.random.default_rng(11), np.random.default_rng(11)
    jumps.stream(g)
    assert g.random(5).tolist() == reference.random(5).tolist()


def test_a_generator_given_another_streams_state_is_jumped_on_that_stream():
    """Setting ``bit_generator.state`` (which may change the increment) rebuilds the table."""
    g, other, reference = (np.random.default_rng(s) for s in (1, 2, 2))
    jumps.skip(jumps.stream(g), 10)  # a table for g's own stream
    g.bit_generator.state = other.bit_generator.state
    jumps.skip(jumps.stream(g), 1000)
    reference.random(1000)
    assert g.random(3).tolist() == reference.random(3).tolist()
