"""A researcher's rule output checked in one compiled pass (used by ``Kernel.call``).

The kernel checks every month that a researcher's rule returned what its stage allows
(:func:`coprod_sim.rules.base.check_output`). In NumPy that is several passes over the
output (minimum, maximum, row sums), about as long as the arithmetic of a simple rule; these
loops make one. They only say "certainly valid": anything else is left to ``check_output``,
which decides and words the error.
"""

from __future__ import annotations

from coprod_sim.rules.jit import jit


@jit
def all_within(a, low, high):
    """Whether every value of the flat array ``a`` lies in [low, high] (NaN never does).

    No early exit, so the loop compiles to vector instructions."""
    ok = True
    for x in a:
        ok &= (x >= low) & (x <= high)
    return ok


@jit
def probabilities_within(p, limit):
    """Whether every entry of the (n, 3) array ``p`` is in [0, 1] and every row sums to at
    most ``limit`` (summed left to right)."""
    ok = True
    for i in range(p.shape[0]):
        a, b, c = p[i, 0], p[i, 1], p[i, 2]
        ok &= (a >= 0.0) & (a <= 1.0) & (b >= 0.0) & (b <= 1.0) & (c >= 0.0) & (c <= 1.0)
        ok &= (a + b) + c <= limit
    return ok
