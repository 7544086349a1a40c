"""Random numbers that do not depend on how households are grouped into chunks.

Households are numbered ``0 .. n-1`` and cut into fixed *blocks* of ``block_size`` households
(``configs/synth.yaml``). Block ``b`` draws every random number it ever needs from its own
generator, seeded with ``SeedSequence(seed, spawn_key=(STREAM_HOUSEHOLDS, b))``. A chunk is a run
of whole blocks; :class:`BlockRNG` draws the same per-block calls for every block of the chunk
and concatenates them, so a province is identical for every chunk size (a multiple of the block
size), while the simulation still runs vectorised over the whole chunk.

The province-wide world (geography, banner disasters, cadre diligence) draws from its own
stream ``SeedSequence(seed, spawn_key=(STREAM_WORLD,))``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["STREAM_HOUSEHOLDS", "STREAM_WORLD", "BlockRNG", "world_rng"]

STREAM_WORLD = 0
STREAM_HOUSEHOLDS = 1


def world_rng(seed: int) -> np.random.Generator:
    """The generator of province-wide draws (geography, disasters, village diligence)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(STREAM_WORLD,)))
    )


class BlockRNG:
    """Per-block generators for the households ``[first, first + n)`` of one chunk.

    Parameters
    ----------
    seed : int
        The province seed.
    first : int
        Index of the chunk's first household; must be a multiple of ``block_size``.
    n : int
        Households in the chunk.
    block_size : int
        Households per block.
    """

    def __init__(self, seed: int, first: int, n: int, block_size: int) -> None:
        if first % block_size:
            raise ValueError(
                f"chunk start {first} is not a multiple of the block size {block_size}"
            )
        starts = np.arange(0, n, block_size)
        self.bounds = np.append(starts, n)
        self.sizes = np.diff(self.bounds)
        self.n = n
        first_block = first // block_size
        self._gens = [
            np.random.Generator(
                np.random.PCG64(
                    np.random.SeedSequence(seed, spawn_key=(STREAM_HOUSEHOLDS, first_block + i))
                )
            )
            for i in range(len(starts))
        ]

    # -- full-shape draws: one value per household (times ``tail``) --------------------------
    def _full(
        self,
        fn: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray],
        tail: tuple[int, ...],
    ) -> np.ndarray:
        return np.concatenate(
            [fn(g, (int(s), *tail)) for g, s in zip(self._gens, self.sizes, strict=True)]
        )

    def random(self, *tail: int) -> np.ndarray:
        """Uniform ``[0, 1)`` of shape ``(n, *tail)``."""
        return self._full(lambda g, s: g.random(s), tail)

    def normal(self, *tail: int) -> np.ndarray:
        """Standard normal of shape ``(n, *tail)``."""
        return self._full(lambda g, s: g.standard_normal(s), tail)

    def poisson(self, lam: np.ndarray) -> np.ndarray:
        """Poisson draws with a per-household mean ``lam`` (shape ``(n,)``)."""
        parts = [
            g.poisson(lam[a:b])
            for g, a, b in zip(self._gens, self.bounds[:-1], self.bounds[1:], strict=True)
        ]
        return np.concatenate(parts)

    # -- draws for a subset of households (rows sorted ascending) ----------------------------
    def _rows(
        self, rows: np.ndarray, fn: Callable[[np.random.Generator, int], np.ndarray]
    ) -> np.ndarray:
        if rows.size == 0:
            return fn(self._gens[0], 0)
        counts = np.diff(np.searchsorted(rows, self.bounds))
        parts = [fn(g, int(c)) for g, c in zip(self._gens, counts, strict=True) if c]
        return np.concatenate(parts)

    def random_rows(self, rows: np.ndarray) -> np.ndarray:
        """One uniform per entry of ``rows`` (household indices, sorted ascending)."""
        return self._rows(rows, lambda g, c: g.random(c))

    def normal_rows(self, rows: np.ndarray) -> np.ndarray:
        """One standard normal per entry of ``rows`` (sorted ascending)."""
        return self._rows(rows, lambda g, c: g.standard_normal(c))

    def integers_rows(
        self, rows: np.ndarray, low: int | np.ndarray, high: int | np.ndarray
    ) -> np.ndarray:
        """Integers in ``[low, high)`` per entry of ``rows``; ``low``/``high`` may be per-entry arrays."""
        u = self.random_rows(rows)
        low_a = np.asarray(low, dtype=np.int64)
        span = np.asarray(high, dtype=np.int64) - low_a
        return (low_a + np.floor(u * span)).astype(np.int64)
