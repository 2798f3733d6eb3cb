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

from mia_repro.attacks.view import AttackerView, AttackInputError, PopulationSimulation, _need_array
from mia_repro.attacks.signals import log_softmax
from mia_repro.views.arrays import _labels, as_logits
from mia_repro.views.mistakes import OwnInputError, check_not_copies


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


def view_from_pool(target_labels, reference_member, *, target_logits=None, target_probs=None,
                   reference_logits=None, reference_probs=None, population_labels=None,
                   target_population_logits=None, target_population_probs=None, population_logits=None,
                   population_probs=None, sim_targets: int | None = None, seed: int = 0) -> AttackerView:
    """The attacker's view of a target beside a pool of one's own reference models (the online attacks').

    Target: ``target_logits`` or ``target_probs`` (N, C) on its N records, ``target_labels`` int (N,) (its
    membership goes to :func:`run_attacks` only).  References (R >= 2 of them, trained like the target):
    ``reference_logits`` / ``_probs`` (R, N, C) on the same records and ``reference_member`` bool (R, N),
    whether reference r trained on record n -- some IN and some OUT entries (about half each, as in
    Carlini et al. 2022, is what the online attacks want; a record with one side missing is scored with
    that side's average).  Population: P records that no model trained on, ``population_labels`` (P,),
    ``target_population_logits`` / ``_probs`` (P, C) and ``population_logits`` / ``_probs`` (R, P, C).
    The attacker's simulation (thresholds, RMIA's parameters): the references in turn as the target,
    ``sim_targets`` of them (seeded by ``seed``; None: all).
    """
    t_logits = as_logits("target", target_logits, target_probs)
    n, c = t_logits.shape
    true = _labels("target_labels", target_labels, n, c)
    if reference_logits is None and reference_probs is None:
        raise OwnInputError("reference: give reference_logits= (or reference_probs=), shape (R, N, C)")
    refs = reference_logits if reference_logits is not None else reference_probs
    r = len(refs)
    if r < 2:
        raise OwnInputError(f"reference: at least 2 reference models (the attacker's simulation needs a target "
                            f"and a reference among them), got {r}")
    ref = np.stack([as_logits(f"reference {j}", *((refs[j], None) if reference_logits is not None
                                                   else (None, refs[j]))) for j in range(r)])
    if ref.shape != (r, n, c):
        raise OwnInputError(f"reference: expected shape ({r}, {n}, {c}) (references x target records x classes), "
                            f"got {ref.shape}")
    check_not_copies(t_logits, {f"reference {j}": z for j, z in enumerate(ref)})
    rm = np.asarray(reference_member)
    if rm.shape != (r, n) or not (rm.dtype == bool or (np.issubdtype(rm.dtype, np.number) and np.isin(rm, (0, 1)).all())):
        raise OwnInputError(f"reference_member: expected booleans (or 0/1) of shape ({r}, {n}), got {rm.shape} "
                            f"{rm.dtype}")
    rm = rm.astype(bool)
    if rm.all() or not rm.any():
        raise OwnInputError("reference_member: the online attacks need references that trained on some target "
                            "records (IN) and references that did not (OUT)")
    if population_labels is None:
        raise OwnInputError("population_labels: the population records' classes (P,) are needed (RMIA's "
                            "population and the simulation)")
    tpop = as_logits("target_population", target_population_logits, target_population_probs)
    p = len(tpop)
    pop_true = _labels("population_labels", population_labels, p, c)
    pops = population_logits if population_logits is not None else population_probs
    if pops is None or len(pops) != r:
        raise OwnInputError(f"population: one (P, C) array per reference ({r}) in population_logits= (or _probs=)")
    pop = np.stack([as_logits(f"population {j}", *((pops[j], None) if population_logits is not None
                                                   else (None, pops[j]))) for j in range(r)])
    if pop.shape != (r, p, c) or tpop.shape != (p, c):
        raise OwnInputError(f"population: expected ({r}, {p}, {c}) for the references and ({p}, {c}) for the "
                            f"target, got {pop.shape} and {tpop.shape}")
    if sim_targets is not None and not (isinstance(sim_targets, (int, np.integer)) and not isinstance(sim_targets, bool)
                                        and 2 <= sim_targets):
        raise OwnInputError(f"sim_targets: an integer >= 2 (or None: every reference), got {sim_targets!r}")
    try:
        pool = ReferencePool(np.concatenate([t_logits[None], ref]), np.concatenate([np.zeros((1, n), bool), rm]),
                             true, np.concatenate([tpop[None], pop]), pop_true,
                             names=("target", *(f"reference_{j:03d}" for j in range(r))))
        return pool.view(0, sim_targets=sim_targets, seed=seed)
    except PoolInputError as exc:
        raise OwnInputError(str(exc)) from None
