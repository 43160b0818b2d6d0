"""Skipping uniforms of a stream without drawing them: PCG64 jumped ahead in compiled loops.

Why: the compiled month draws each stream's uniforms for all n citizens in order, as the
NumPy month's ``random(n)`` does, but uses only those of the citizens concerned (the tenth
who offer, the admitted). Drawing and dropping the others cost some four million draws a
month at 1,000,000 citizens (about 5 ns each). NumPy's default bit generator, PCG64, is a
128-bit linear congruential generator: k draws move its state s to A^k s + C_k (mod 2^128),
and every double drawn consumes exactly one step. So a gap of k uniforms costs one 128-bit
multiply-add with A^k and C_k taken from a table built once per stream, instead of k draws;
the draws that are used come from the same state, so the values (and results) are the same.

The compiled loops write the generator's state where NumPy keeps it (the ``pcg64_random_t``
the bit generator's ``ctypes.state_address`` points to). That layout is NumPy's, not a
public API, so :func:`jumps_for` checks it on the generator itself (the state it reads
must equal ``bit_generator.state``) and a jump against NumPy's own ``advance``; for any other
bit generator, or if a check fails, it returns an empty table and the loops draw and drop
(:func:`skip`), as before.
"""

from __future__ import annotations

import ctypes

import numpy as np

from coprod_sim.rules.jit import jit

MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
"""PCG64's multiplier (NumPy's PCG_DEFAULT_MULTIPLIER_128)."""
SMALL = 64
"""Gaps below SMALL are one row of the table; larger ones add rows for their powers of 2."""
POWERS = 40
"""Gaps up to 2^POWERS - 1 (a stream of a trillion citizens)."""
MASK = (1 << 128) - 1
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_SMALL_MASK = np.uint64(SMALL - 1)
_SMALL_BITS = np.uint64(6)
_ONE = np.uint64(1)


def _row(a: int, c: int) -> list[int]:
    return [a & (2**64 - 1), a >> 64, c & (2**64 - 1), c >> 64]


def _table(inc: int) -> np.ndarray:
    """Rows (A^k lo, hi, C_k lo, hi): k = 0..SMALL-1, then k = SMALL * 2^b, b = 0..POWERS-7."""
    rows, a, c = [], 1, 0
    for _ in range(SMALL):
        rows.append(_row(a, c))
        a, c = (a * MULTIPLIER) & MASK, (c * MULTIPLIER + inc) & MASK
    for _ in range(POWERS - 6):  # a, c: SMALL steps, then doubled: (a, c) o (a, c)
        rows.append(_row(a, c))
        a, c = (a * a) & MASK, (a * c + c) & MASK
    return np.array(rows, dtype=np.uint64)


NO_JUMPS = (np.zeros(4, np.uint64), np.zeros((0, 4), np.uint64))
"""What :func:`jumps_for` returns when a generator cannot be jumped: the loops draw."""


def _state_view(generator: np.random.Generator) -> np.ndarray | None:
    """The generator's 128-bit state and increment as uint64[4] (lo, hi, lo, hi), aliasing
    NumPy's memory, or None if the bit generator is not a PCG64 laid out as expected."""
    bg = generator.bit_generator
    if type(bg) is not np.random.PCG64:
        return None
    try:
        pointer = ctypes.c_void_p.from_address(bg.ctypes.state_address).value
        view = np.ctypeslib.as_array((ctypes.c_uint64 * 4).from_address(pointer))
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - another NumPy
        return None
    state = bg.state["state"]
    as_ints = [int(x) for x in view]
    if (as_ints[0] + (as_ints[1] << 64), as_ints[2] + (as_ints[3] << 64)) != (
            state["state"], state["inc"]):
        return None
    return view


def _works(generator: np.random.Generator, view: np.ndarray, table: np.ndarray) -> bool:
    """A jump of a copy of the generator's stream gives NumPy's ``advance``; the generator
    itself is left as it was."""
    saved = generator.bit_generator.state
    try:
        reference = np.random.PCG64(0)
        reference.state = saved
        for gap in (1, 63, 64, 1000, 123_457):
            jump(view, table, gap)
            reference.advance(gap)
            if generator.random() != np.random.Generator(reference).random():
                return False
        return True
    finally:
        generator.bit_generator.state = saved


_cache: dict[int, tuple[np.random.Generator, np.ndarray, np.ndarray, tuple[int, int]]] = {}


def forget_streams() -> None:
    """Drop every cached jump table and the generator it holds alive (a long-lived process,
    such as the teaching page's server, calls it when towns close); tables are rebuilt on use
    and results do not change."""
    _cache.clear()


def jumps_for(generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(state, table) for :func:`skip` on ``generator``: its state as uint64[4] (aliasing
    NumPy's) and its jump table; ``NO_JUMPS`` (draw and drop) if it is not a PCG64 we can
    jump. Kept per generator object and increment (the table depends on the increment, which
    setting ``bit_generator.state`` may change)."""
    cached = _cache.get(id(generator))
    if cached is not None and cached[0] is generator and (
            int(cached[1][2]), int(cached[1][3])) == cached[3]:
        return cached[1], cached[2]
    view = _state_view(generator)
    if view is None:
        return NO_JUMPS
    table = _table(generator.bit_generator.state["state"]["inc"])
    if not _works(generator, view, table):  # pragma: no cover - NumPy changed its PCG64
        return NO_JUMPS
    if len(_cache) > 256:  # generators of finished runs
        forget_streams()
    _cache[id(generator)] = (generator, view, table, (int(view[2]), int(view[3])))
    return view, table


@jit
def _mulhi(a, b):
    """The high 64 bits of the 128-bit product of two uint64."""
    a_lo, a_hi, b_lo, b_hi = a & _M32, a >> _S32, b & _M32, b >> _S32
    ll, lh, hl = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo
    mid = (ll >> _S32) + (lh & _M32) + (hl & _M32)
    return a_hi * b_hi + (lh >> _S32) + (hl >> _S32) + (mid >> _S32)


@jit
def _apply(state, table, row):
    """state = A state + C (mod 2^128) with (A, C) from ``table[row]``."""
    s_lo, s_hi = state[0], state[1]
    a_lo, a_hi, c_lo, c_hi = table[row, 0], table[row, 1], table[row, 2], table[row, 3]
    lo = a_lo * s_lo
    hi = _mulhi(a_lo, s_lo) + a_lo * s_hi + a_hi * s_lo
    new_lo = lo + c_lo
    carry = _ONE if new_lo < lo else np.uint64(0)
    state[0] = new_lo
    state[1] = hi + c_hi + carry


@jit
def jump(state, table, count):
    """Move the stream whose state is ``state`` ``count`` draws ahead (``table`` non-empty)."""
    k = np.uint64(count)
    small = k & _SMALL_MASK
    if small:
        _apply(state, table, np.int64(small))
    k >>= _SMALL_BITS
    row = SMALL
    while k:
        if k & _ONE:
            _apply(state, table, row)
        k >>= _ONE
        row += 1


def stream(generator: np.random.Generator) -> tuple:
    """``generator`` as the compiled loops take a stream: (generator, state, table)."""
    return (generator, *jumps_for(generator))


@jit
def skip(stream, count):
    """Drop the next ``count`` uniforms of ``stream`` (to keep it aligned with the NumPy
    month's draws for all citizens): a jump when its table is not empty, else ``count``
    draws."""
    if count <= 0:
        return
    generator, state, table = stream
    if table.shape[0] == 0:
        for _ in range(count):
            generator.random()
    else:
        jump(state, table, count)
