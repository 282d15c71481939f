"""Per-environment random streams that live inside the game state.

Every environment of a batch owns one 64-bit SplitMix64 stream, stored as a ``uint64`` field
``rng`` of its state. Keeping the generator state as a plain array (instead of one
``np.random.Generator`` object per environment) gives three properties the project relies on:

* draws are vectorised over the batch (no Python loop per environment);
* a :class:`~vlmgym.core.state.GameState` snapshot carries the stream exactly, so the same state
  and the same action always produce the same outcome (fair GRPO group scoring);
* only the environments named by ``mask`` advance, so an illegal move leaves the stream untouched.

The streams are seeded from the env's own ``np.random.Generator`` (``env.np_random``), so
``reset(seed=...)`` controls everything. SplitMix64 (Steele, Lea and Flood, 2014) is the seeding
generator of xoshiro and passes BigCrush; the bits are identical on every platform.
"""

from __future__ import annotations

import numpy as np

__all__ = ["seed_from", "draw_bits", "draw_uniform", "uniform_below", "random_order"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / float(1 << 53)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def seed_from(generator: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Draw ``n`` fresh stream states (or one, as a 0-d array) from a numpy generator."""
    size = () if n is None else (n,)
    return generator.integers(0, np.iinfo(np.uint64).max, size=size, dtype=np.uint64, endpoint=True)


def draw_bits(rng: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Return ``(B, n)`` random uint64 words and advance ``rng[mask]`` by ``n`` draws in place.

    Rows outside ``mask`` are computed but their streams do not move: callers must not use them.
    """
    steps = _GAMMA * np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        out = _mix(rng[:, None] + steps[None, :])
        advance = _GAMMA * np.uint64(n)
        if mask is None:
            rng += advance
        else:
            rng[mask] += advance
    return out


def draw_uniform(rng: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Return ``(B, n)`` floats in ``[0, 1)`` with 53 random bits each (see :func:`draw_bits`)."""
    return (draw_bits(rng, n, mask) >> _S11).astype(np.float64) * _TO_UNIT


def uniform_below(u: np.ndarray, high: np.ndarray | int) -> np.ndarray:
    """Map uniforms in ``[0, 1)`` to integers in ``[0, high)`` (``high`` broadcasts)."""
    high_arr = np.asarray(high, dtype=np.int64)
    return np.minimum((u * high_arr).astype(np.int64), np.maximum(high_arr - 1, 0))


def random_order(rng: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Return ``(B, n)`` independent uniformly random permutations of ``range(n)``."""
    return np.argsort(draw_bits(rng, n, mask), axis=1, kind="stable")
