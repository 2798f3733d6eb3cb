"""What every reference-model attack shares: one attack problem (a target, its records, the references
that did not -- or did -- train on them), the real one and the attacker's simulated ones, and the attack
base class whose threshold is chosen on the simulation (see :mod:`.base` for the view and the interface)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mia_repro.attacks.view import AttackerView, AttackInputError
from mia_repro.attacks.base import MembershipAttack
from mia_repro.attacks.thresholds import balanced_threshold
from mia_repro.attacks.signals import cross_entropy, logit_confidence


@dataclass
class ReferenceProblem:
    """One attack problem for a reference-model attack: a target model, its records, OUT references.

    ``logits`` (N, C) the attacked model's logits on the N records, ``true_class``
    int (N,); ``ref_logits`` (R, N, C) the reference models' logits and
    ``ref_out`` bool (R, N) which of them did not train on the record.  The
    population: ``pop_logits`` (P, C) of the attacked model, ``pop_true_class``
    (P,), ``pop_ref_logits`` (R, P, C), ``pop_ref_out`` (R, P).
    """

    logits: np.ndarray
    true_class: np.ndarray
    ref_logits: np.ndarray
    ref_out: np.ndarray
    pop_logits: np.ndarray
    pop_true_class: np.ndarray
    pop_ref_logits: np.ndarray
    pop_ref_out: np.ndarray

    # the signals, float64, computed once per problem (an attack's grid search reuses them)
    @functools.cached_property
    def phi(self) -> np.ndarray:
        """(N,) the attacked model's logit-scaled confidence (:func:`logit_confidence`)."""
        return logit_confidence(self.logits, self.true_class)

    @functools.cached_property
    def ref_phi(self) -> np.ndarray:
        """(R, N) the references' logit-scaled confidences."""
        return logit_confidence(self.ref_logits, self.true_class)

    @functools.cached_property
    def loss(self) -> np.ndarray:
        """(N,) the attacked model's loss (:func:`cross_entropy`)."""
        return np.logaddexp(0.0, -self.phi)

    @functools.cached_property
    def ref_loss(self) -> np.ndarray:
        """(R, N) the references' losses."""
        return np.logaddexp(0.0, -self.ref_phi)

    @functools.cached_property
    def pop_loss(self) -> np.ndarray:
        """(P,) the attacked model's loss on the population records."""
        return cross_entropy(self.pop_logits, self.pop_true_class)

    @functools.cached_property
    def pop_ref_loss(self) -> np.ndarray:
        """(R, P) the references' losses on the population records."""
        return cross_entropy(self.pop_ref_logits, self.pop_true_class)

    def true_log_probs(self, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """float64 log true-class probabilities of the softmax at ``temperature`` (logits / T), computed once
        per temperature: ``(target (N,), references (R, N), target on the population (P,), references on the
        population (R, P))``.  At T = 1 they are minus the losses."""
        cache = self.__dict__.setdefault("_true_log_probs", {})
        if temperature not in cache:
            if temperature == 1.0:
                parts = (self.loss, self.ref_loss, self.pop_loss, self.pop_ref_loss)
            else:
                t = float(temperature)
                parts = (cross_entropy(self.logits / t, self.true_class),
                         cross_entropy(self.ref_logits / t, self.true_class),
                         cross_entropy(self.pop_logits / t, self.pop_true_class),
                         cross_entropy(self.pop_ref_logits / t, self.pop_true_class))
            cache[temperature] = tuple(-np.asarray(x, np.float64) for x in parts)
        return cache[temperature]


def target_problem(view: AttackerView) -> ReferenceProblem:
    """The real attack: the target, its 2n records, every shadow as an OUT reference."""
    view.require_references("a reference-model attack")
    z_logits, z_member = view.simulation.population()
    ref_out = np.ones(view.ref_logits.shape[:2], bool) if view.ref_in is None else ~view.ref_in
    return ReferenceProblem(view.target_logits, view.true_class, view.ref_logits, ref_out,
                            view.target_pop_logits, view.pop_true_class, z_logits, ~z_member)


MIN_SIMULATION_SHADOWS = 2  # one shadow as the simulated target, at least one other as its reference


def simulated_problems(view: AttackerView) -> list[tuple[ReferenceProblem, np.ndarray]]:
    """The attacker's labelled data: ``(problem, member)`` with each shadow in turn as the target.

    Records are the population sample (those with at least one OUT reference);
    ``member`` bool says whether that shadow trained on each.  Needs at least
    :data:`MIN_SIMULATION_SHADOWS` shadows (:class:`AttackInputError` otherwise).
    """
    view.require_references("a reference-model attack")
    sim = view.simulation
    if len(sim.logits) < MIN_SIMULATION_SHADOWS:
        raise AttackInputError(f"shadows: the population simulation of a reference-model attack needs at least "
                               f"{MIN_SIMULATION_SHADOWS} shadow models (one as target, the others as its "
                               f"references), got {len(sim.logits)}")
    z_logits, z_member = sim.population()
    z_true = view.pop_true_class
    out = []
    for j in (range(len(sim.logits)) if sim.targets is None else sim.targets):
        t_logits, member, r_logits, r_out = sim.as_target(j)
        others = sim.others(j)
        # records with an OUT reference (a pool keeps every record, as its real target's problem does)
        keep = r_out.any(axis=0) if sim.z_logits is None else np.ones(r_out.shape[1], bool)
        out.append((ReferenceProblem(t_logits[keep], sim.true_class[keep], r_logits[:, keep], r_out[:, keep],
                                     z_logits[j], z_true, z_logits[others], ~z_member[others]), member[keep]))
    return out


def simulate(view: AttackerView, score_fn: Callable[[ReferenceProblem], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(score, member)`` of ``score_fn`` over every simulated problem, concatenated."""
    pairs = [(score_fn(p), m) for p, m in simulated_problems(view)]
    return np.concatenate([s for s, _ in pairs]), np.concatenate([m for _, m in pairs])


class ReferenceAttack(MembershipAttack):
    """A reference-model attack: subclasses define :meth:`problem_score`; the threshold maximizes
    balanced accuracy on the population simulation (:func:`simulate`)."""

    needs_references = True

    def problem_score(self, problem: ReferenceProblem) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def fit(self, view: AttackerView) -> "ReferenceAttack":
        score, member = simulate(view, self.problem_score)
        self.threshold_ = balanced_threshold(member, score)
        self.info_ = {"simulated_records": int(len(member)), "simulated_members": int(member.sum())}
        return self

    def decision_function(self, view: AttackerView) -> np.ndarray:
        return self.problem_score(target_problem(view))


def masked_mean_std(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record mean, standard deviation and count of ``values`` (R, N) over entries where ``mask`` (R, N).

    A record with no entry in ``mask`` has count 0, mean 0 and standard deviation 0: callers that may meet
    one fill it with :func:`side_mean` (never with that 0)."""
    w = np.asarray(mask, dtype=np.float64)
    count = w.sum(axis=0)
    safe = np.maximum(count, 1)
    mean = (values * w).sum(axis=0) / safe
    var = (((values - mean) ** 2) * w).sum(axis=0) / np.maximum(count - 1, 1)
    return mean, np.sqrt(var), count


def side_mean(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (N,), count (N,))``: per record the mean of ``values`` (R, N) over its entries in ``mask`` (R, N);
    a record with none (possible with few references: no OUT, or no IN, model among them) gets the mean over
    every entry in ``mask``, of all records -- the side's average, an estimate of what its own mean would
    be, and never the 0 of an empty sum.  :class:`AttackInputError` when ``mask`` holds no entry at all."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise AttackInputError("reference attack: no reference entry on this side for any record")
    mean, _, count = masked_mean_std(values, mask)
    return np.where(count > 0, mean, values[mask].mean()), count
