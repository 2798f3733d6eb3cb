"""Member / non-member index splits for the target and the shadow models.

For a size n: the target gets n members and n non-members, drawn from a
seeded permutation of all records; the remaining records form the *shadow
pool*.  Shadow k draws its n members and n non-members from that pool only,
with its own seed, so shadows never touch target data (they may overlap each
other, as in the paper when data is scarce: at n = 15000 the pool holds
exactly 2n records).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelSplit:
    """Indices (int64) into the pooled dataset for one model."""

    members: np.ndarray
    nonmembers: np.ndarray


@dataclass(frozen=True)
class Splits:
    """The splits of one training size.  ``shadows[k]`` is shadow k."""

    size: int
    target: ModelSplit
    shadows: tuple[ModelSplit, ...]
    pool: np.ndarray

    @property
    def target_eval(self) -> np.ndarray:
        """The target's 2n records, members then non-members, int64: the order of its outputs."""
        return np.concatenate([self.target.members, self.target.nonmembers]).astype(np.int64)


def make_splits(n_total: int, size: int, n_shadows: int, seed: int) -> Splits:
    """Split ``n_total`` records for training size ``size``.

    Shadow k's indices depend only on (seed, size, k), not on ``n_shadows``,
    so adding shadows keeps the existing ones.  Raises ``ValueError`` when the
    pool cannot hold one shadow's 2n records (i.e. 4n > n_total).
    """
    if size <= 0 or n_shadows < 0:
        raise ValueError(f"size must be positive and n_shadows non-negative, got {size}, {n_shadows}")
    if 4 * size > n_total:
        raise ValueError(
            f"size {size} is too large for {n_total} records: the target needs 2n = {2 * size} and "
            f"each shadow 2n from the disjoint rest, so n must be at most {n_total // 4}"
        )
    perm = np.random.default_rng([seed, size]).permutation(n_total)
    target = ModelSplit(np.sort(perm[:size]), np.sort(perm[size : 2 * size]))
    pool = np.sort(perm[2 * size :])
    shadows = []
    for k in range(n_shadows):
        pick = np.random.default_rng([seed, size, k + 1]).choice(pool, size=2 * size, replace=False)
        shadows.append(ModelSplit(np.sort(pick[:size]), np.sort(pick[size:])))
    return Splits(size=size, target=target, shadows=tuple(shadows), pool=pool)


def population_sample(splits: Splits, population_size: int, seed: int) -> np.ndarray:
    """Sorted int64 indices of ``population_size`` records drawn from the shadow pool of ``splits``.

    The population records of RMIA (Zarifzadeh et al. 2024): never target
    data; seeded by ``(seed, size)`` so every model of a size sees the same ones.
    """
    if not 1 <= population_size <= len(splits.pool):
        raise ValueError(f"population_size must be in 1..{len(splits.pool)} (the shadow pool at n = {splits.size}), "
                         f"got {population_size}")
    rng = np.random.default_rng([seed, splits.size, 99])
    return np.sort(rng.choice(splits.pool, size=population_size, replace=False)).astype(np.int64)


@dataclass(frozen=True)
class PoolSplit:
    """The records of a reference pool (Carlini et al. 2022, Sec. VI): ``records`` int64 (2n,) sorted, the
    pool; ``population`` int64 (P,) sorted, records outside it that no pool model trains on; ``seed`` and
    ``size`` from which every model's half is drawn (:meth:`members`)."""

    size: int
    records: np.ndarray
    population: np.ndarray
    seed: int

    def members(self, m: int) -> np.ndarray:
        """Sorted int64 (n,): the half of the pool that model ``m`` trains on (seeded by seed, size and ``m``
        only, so that adding models keeps the existing ones)."""
        pick = np.random.default_rng([self.seed, self.size, m, 31]).permutation(len(self.records))[: self.size]
        return np.sort(self.records[pick]).astype(np.int64)

    def nonmembers(self, m: int) -> np.ndarray:
        """Sorted int64 (n,): the other half."""
        return np.setdiff1d(self.records, self.members(m)).astype(np.int64)


def pool_split(n_total: int, size: int, population_size: int, seed: int) -> PoolSplit:
    """The pool of 2 * ``size`` records and a population sample of ``population_size`` other records, drawn
    from ``n_total`` with a seeded permutation of their own (independent of the Shokri splits).
    ``ValueError`` when they do not fit."""
    if size <= 0 or population_size <= 0:
        raise ValueError(f"size and population_size must be positive, got {size}, {population_size}")
    if 2 * size + population_size > n_total:
        raise ValueError(f"a pool of 2n = {2 * size} records and a population of {population_size} do not fit "
                         f"in {n_total} records")
    perm = np.random.default_rng([seed, size, 53]).permutation(n_total)
    return PoolSplit(size, np.sort(perm[: 2 * size]).astype(np.int64),
                     np.sort(perm[2 * size : 2 * size + population_size]).astype(np.int64), seed)
