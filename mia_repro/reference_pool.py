"""A pool of reference models and the attacker's view of one of them (Carlini et al., IEEE S&P 2022, Sec. VI).

M models, each trained on a seeded random half of the same 2n pool records (so each record is IN for
about M/2 of them and OUT for the rest), their logits on every pool record and on P population records
that no model trained on.  :meth:`ReferencePool.view` makes one model the target and others its
references -- their IN/OUT masks known to the attacker, the target's not -- as an
:class:`~mia_repro.attacks.AttackerView` that every attack of :mod:`mia_repro.attacks` accepts, the
online ones (:data:`~mia_repro.attacks.ONLINE_ATTACKS`) included.

The attacker's labelled data (thresholds, RMIA's ``a`` and ``gamma``) is a simulation on the reference
models alone: some of them in turn play the target, with others as their references and the pool
records labelled by their masks; RMIA's population records are the population sample.  Shokri's
shadow-based attacks (SVMs, thresholds) learn from the references' own records with their masks.

numpy only; no Keras.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mia_repro.attacks.base import AttackerView, AttackInputError, PopulationSimulation, _need_array, log_softmax


class PoolInputError(AttackInputError):
    """Arrays or choices given to a reference pool are not what it needs; the message names the argument."""


@dataclass(repr=False)
class ModelRecords:
    """One pool model's own records as an attack on shadows sees them (the attributes
    :func:`~mia_repro.attacks.attack_dataset` reads): ``probs`` float32 (N, C), ``logits`` float32 (N, C),
    ``true_class`` int64 (N,), ``member`` bool (N,) whether it trained on each."""

    name: str
    probs: np.ndarray
    logits: np.ndarray
    true_class: np.ndarray
    member: np.ndarray


def softmax32(logits: np.ndarray) -> np.ndarray:
    """float32 probabilities of float logits (..., C), computed in float64."""
    return np.exp(log_softmax(logits)).astype(np.float32)


@dataclass(repr=False)
class ReferencePool:
    """M pool models' outputs.

    ``logits`` float32 (M, N, C) on the N = 2n pool records; ``member`` bool (M, N) which records each model
    trained on; ``true_class`` int64 (N,); ``pop_logits`` float32 (M, P, C) on the population sample,
    ``pop_true_class`` int64 (P,); ``names`` (M,) the models' names; ``indices`` / ``pop_indices`` int64
    (N,) / (P,) into the dataset (optional, for figures).  Checked when made (:class:`PoolInputError`).
    """

    logits: np.ndarray
    member: np.ndarray
    true_class: np.ndarray
    pop_logits: np.ndarray
    pop_true_class: np.ndarray
    names: tuple[str, ...] = ()
    indices: np.ndarray | None = None
    pop_indices: np.ndarray | None = None

    def __post_init__(self):
        try:
            m, n, c = _need_array("logits", self.logits, 3).shape
            _need_array("member", self.member, 2, (m, n), kind="i")
            _need_array("true_class", self.true_class, 1, (n,), kind="i")
            p = _need_array("pop_logits", self.pop_logits, 3, (m, None, c)).shape[1]
            _need_array("pop_true_class", self.pop_true_class, 1, (p,), kind="i")
        except AttackInputError as exc:
            raise PoolInputError(f"reference pool: {exc}") from None
        if m < 2:
            raise PoolInputError(f"reference pool: needs at least 2 models (a target and a reference), got {m}")
        self.member = np.asarray(self.member).astype(bool)
        self.names = tuple(self.names) or tuple(f"pool_{i:03d}" for i in range(m))
        if len(self.names) != m:
            raise PoolInputError(f"names: {len(self.names)} names for {m} models")

    @property
    def n_models(self) -> int:
        return int(self.logits.shape[0])

    def __len__(self) -> int:
        return int(self.logits.shape[1])

    def __repr__(self) -> str:
        m, n, c = self.logits.shape
        return (f"ReferencePool({m} models x {n} pool records x {c} classes, population {len(self.pop_true_class)}, "
                f"IN per record {self.member.sum(axis=0).min()}..{self.member.sum(axis=0).max()})")

    def model_records(self, m: int) -> ModelRecords:
        """Model ``m``'s own pool records with its mask."""
        return ModelRecords(self.names[m], softmax32(self.logits[m]), self.logits[m], self.true_class, self.member[m])

    def _models(self, what: str, models, target: int) -> list[int]:
        out = [int(i) for i in models]
        bad = [i for i in out if not 0 <= i < self.n_models]
        if bad:
            raise PoolInputError(f"{what}: model numbers must lie in 0..{self.n_models - 1}, got {bad}")
        if target in out:
            raise PoolInputError(f"{what}: the target (model {target}) cannot be its own reference")
        if len(set(out)) != len(out) or not out:
            raise PoolInputError(f"{what}: a non-empty list of distinct models, got {out}")
        return out

    def view(self, target: int, references: Sequence[int] | None = None, simulation: Sequence[int] | None = None,
             n_sim_references: int | None = None, sim_targets: int | None = None, seed: int = 0) -> AttackerView:
        """The attacker's view of model ``target``.

        ``references``: the models whose outputs (and masks) the attack uses on the target's records (None:
        every other model); they are also the shadows of Shokri's attacks.  ``simulation``: the models of
        the attacker's simulation (None: the references); each of ``sim_targets`` of them (a seeded subset;
        None: all) plays the target with ``n_sim_references`` of the others as references (seeded; None:
        all others).  The target's mask is not in the view.
        """
        if not 0 <= int(target) < self.n_models:
            raise PoolInputError(f"target: a model number in 0..{self.n_models - 1}, got {target}")
        target = int(target)
        refs = self._models("references", [i for i in range(self.n_models) if i != target]
                            if references is None else references, target)
        sim = refs if simulation is None else self._models("simulation", simulation, target)
        if len(sim) < 2:
            raise PoolInputError(f"simulation: the attacker's simulation needs at least 2 models (one as target, "
                                 f"one as its reference), got {len(sim)}")
        if sim_targets is not None and not 1 <= sim_targets:
            raise PoolInputError(f"sim_targets: at least 1, got {sim_targets}")
        chosen = None
        if sim_targets is not None and sim_targets < len(sim):
            chosen = tuple(int(i) for i in np.sort(np.random.default_rng([seed, target, 17]).choice(
                len(sim), sim_targets, replace=False)))
        z_member = np.zeros((len(sim), len(self.pop_true_class)), bool)
        simulation_ = PopulationSimulation(self.logits[sim], self.member[sim], self.true_class,
                                           z_logits=self.pop_logits[sim], z_member=z_member, targets=chosen,
                                           n_references=n_sim_references, seed=seed, models=tuple(sim))
        return AttackerView(
            target_logits=self.logits[target], target_probs=softmax32(self.logits[target]),
            true_class=self.true_class, shadows=[self.model_records(r) for r in refs],
            target_pop_logits=self.pop_logits[target], ref_logits=self.logits[refs],
            pop_true_class=self.pop_true_class, simulation=simulation_, target_name=self.names[target],
            ref_in=self.member[refs])
