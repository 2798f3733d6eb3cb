"""The attacker's view: what an attack is fit on and scores (:class:`AttackerView`), and its checks.

The view holds the target's outputs on its records *without* their membership, the shadows' own records
*with* theirs, the shadows' reference outputs on the target's records and everyone's outputs on the
population sample; it is checked when made (shapes, dtypes, finite values, probabilities passed as logits:
:class:`AttackInputError` naming the argument).

**The attacker's labelled data** comes in two forms.  Attacks on one model's
outputs (Shokri, thresholds, label-only) learn from the shadows' own records.
Reference-model attacks learn from a *simulation* on the population sample
(:meth:`AttackerView.simulation`): each shadow in turn plays the target, its
population records are labelled by whether it trained on them, and the other
shadows that did not train on a record are its OUT references.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from mia_repro.attacks.signals import cross_entropy
from mia_repro.base.errors import MiaReproInputError


@dataclass
class AttackData:
    """Records seen by an attack model (one row per record of some model).

    ``features`` float32 (N, C) prediction vectors; ``true_class`` int64 (N,);
    ``member`` bool (N,) (positive class = member); ``source`` (N,) str name of
    the model that produced each record (to assert target/shadow separation);
    ``log_true`` float64 (N,) ``log p_y`` computed from the logits where the
    model exposes them undefended (None where only ``features`` are exposed).
    """

    features: np.ndarray
    true_class: np.ndarray
    member: np.ndarray
    source: np.ndarray
    log_true: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.member)

    def of_class(self, c: int) -> "AttackData":
        sel = self.true_class == c
        return AttackData(self.features[sel], self.true_class[sel], self.member[sel], self.source[sel],
                          None if self.log_true is None else self.log_true[sel])


def attack_dataset(outputs: Sequence, transform=None) -> AttackData:
    """Stack the records of several models' :class:`~mia_repro.experiment.outputs.ModelOutputs`.

    ``transform`` (optional) maps prediction vectors (N, C) -> (N, C), e.g. an
    output-side defense applied to what the models expose; without one,
    ``log_true`` holds ``log p_y`` from the logits in float64.
    """
    feats, classes, members, sources = [], [], [], []
    for o in outputs:
        p = o.probs if transform is None else transform(o.probs)
        feats.append(np.asarray(p, dtype=np.float32))
        classes.append(o.true_class)
        members.append(o.member)
        sources.append(np.full(len(o.member), o.name))
    with_logits = transform is None and all(getattr(o, "logits", None) is not None for o in outputs)
    return AttackData(np.concatenate(feats), np.concatenate(classes), np.concatenate(members), np.concatenate(sources),
                      np.concatenate([-cross_entropy(o.logits, o.true_class) for o in outputs]) if with_logits else None)



@dataclass
class PopulationSimulation:
    """Labelled data simulated on the population sample (see the module docstring).

    For K shadows and P population records: ``logits`` float32 (K, P, C) every
    shadow's logits; ``member`` bool (K, P) whether shadow k trained on record
    p; ``true_class`` int64 (P,).  :meth:`as_target` gives, for shadow j as the
    simulated target, its outputs, the labels, and the other shadows' outputs
    with a mask of those that are OUT for each record.

    Optional, for a pool of reference models (:mod:`mia_repro.views.pool`), where the labelled
    records and RMIA's population records differ: ``z_logits`` float32 (K, Z, C) every shadow's logits on
    Z population records that ``z_member`` bool (K, Z) says which trained on (None: the labelled records
    serve as RMIA's population too, as in the Shokri protocol); ``targets`` the shadows that play the
    simulated target (None: every one); ``n_references`` how many of the others each of them gets as its
    references (a seeded subset, ``seed``; None: all others), so that the simulation runs the attack with
    as many references as the real target has.  ``models``: which pool models the K shadows are (None
    outside a pool).
    """

    logits: np.ndarray
    member: np.ndarray
    true_class: np.ndarray
    z_logits: np.ndarray | None = None
    z_member: np.ndarray | None = None
    targets: tuple[int, ...] | None = None
    n_references: int | None = None
    seed: int = 0
    models: tuple[int, ...] | None = None

    def others(self, j: int) -> list[int]:
        """The shadows that serve simulated target ``j`` as references."""
        others = [k for k in range(len(self.logits)) if k != j]
        if self.n_references is not None and self.n_references < len(others):
            pick = np.random.default_rng([self.seed, j, 13]).choice(len(others), self.n_references, replace=False)
            others = [others[i] for i in np.sort(pick)]
        return others

    def as_target(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(target_logits (P, C), member (P,), ref_logits (R, P, C), ref_out (R, P) bool)``."""
        others = self.others(j)
        return self.logits[j], self.member[j], self.logits[others], ~self.member[others]

    def population(self) -> tuple[np.ndarray, np.ndarray]:
        """RMIA's population records as the shadows see them: ``(logits (K, Z, C), member (K, Z))``."""
        if self.z_logits is None:
            return self.logits, self.member
        return self.z_logits, self.z_member


class AttackInputError(MiaReproInputError):
    """Arrays given to an attack are not what it needs (shape, dtype, non-finite values, too few shadows);
    the message names the argument."""


def _need_array(name: str, a, ndim: int, shape: tuple | None = None, kind: str = "f") -> np.ndarray:
    """``a`` as an array of ``ndim`` dimensions (``shape``: None entries free) of kind float ("f", finite) or
    integer ("i"); :class:`AttackInputError` naming ``name`` otherwise."""
    if kind not in ("f", "i"):
        raise ValueError(f"kind: 'f' (floats) or 'i' (integers), got {kind!r}")
    arr = np.asarray(a)
    if arr.ndim != ndim or (shape is not None and any(w is not None and w != g for w, g in zip(shape, arr.shape))):
        want = "(" + ", ".join("?" if w is None else str(w) for w in (shape or (None,) * ndim)) + ("," if ndim == 1 else "") + ")"
        raise AttackInputError(f"{name}: expected shape {want}, got {arr.shape}")
    if kind == "f":
        if not np.issubdtype(arr.dtype, np.floating):
            raise AttackInputError(f"{name}: expected floats, got {arr.dtype}")
        bad = int((~np.isfinite(arr)).sum())
        if bad:
            raise AttackInputError(f"{name}: {bad} non-finite values (NaN or inf); the model's outputs are unusable")
    elif not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        raise AttackInputError(f"{name}: expected integers, got {arr.dtype}")
    return arr


def _rows_are_probabilities(a: np.ndarray) -> bool:
    """Whether every value lies in [0, 1] and every row sums to 1 (within 1e-3)."""
    return bool(a.min() >= 0 and a.max() <= 1 and np.allclose(a.sum(axis=-1), 1, atol=1e-3))


@dataclass(repr=False)
class AttackerView:
    """What the attacker has at one size; holds no membership label of a target record.

    Target: ``target_logits`` float32 (N, C), ``target_probs`` float32 (N, C),
    ``true_class`` int64 (N,) (the attacker queries records it holds, labels
    included), ``target_aug_labels`` int (A, N) (A may be 0), ``target_pop_logits`` (P, C).
    Shadows: ``shadows`` (their :class:`~mia_repro.experiment.outputs.ModelOutputs`, or
    :class:`~mia_repro.views.arrays.ShadowOutputs`: own records with membership),
    ``ref_logits`` float32 (K, N, C) their logits on the target's records (all
    OUT).  Population: ``pop_true_class`` int64 (P,) and ``simulation``
    (:class:`PopulationSimulation`).  The reference part (``ref_logits``,
    ``target_pop_logits``, ``pop_true_class``, ``simulation``) is optional:
    without it the reference-model attacks say what they need
    (:meth:`require_references`); the others run.  ``output_defense`` (optional): a function
    float (N, C) -> float32 (N, C) applied to every prediction vector the models expose (an output-side
    defense, :mod:`mia_repro.views.defenses`); such a view hides the logits, so only the attacks on exposed
    probabilities run (``needs_logits`` False).  ``ref_in`` (optional) bool (K, N): which references
    trained on each target record (a pool of reference models, :mod:`mia_repro.views.pool`; None: every
    reference is OUT for every target record, as Shokri's shadows are), what the online attacks need.
    Build one from Stage I (:meth:`from_stage1`), from a reference pool, or from one's own models or arrays
    (:mod:`mia_repro.views.arrays`).
    """

    target_logits: np.ndarray
    target_probs: np.ndarray
    true_class: np.ndarray
    shadows: list
    target_aug_labels: np.ndarray | None = None
    target_pop_logits: np.ndarray | None = None
    ref_logits: np.ndarray | None = None
    pop_true_class: np.ndarray | None = None
    simulation: PopulationSimulation | None = None
    target_name: str = "target"
    output_defense: Callable[[np.ndarray], np.ndarray] | None = None
    ref_in: np.ndarray | None = None

    @classmethod
    def from_stage1(cls, size_outputs, labels: np.ndarray | None = None, output_defense=None) -> "AttackerView":
        """Build the view from Stage I's ``SizeOutputs``; ``labels`` int (N_total,) the pooled dataset's classes
        (the population records'; None: a view without the reference part).

        The target's ``member`` array is deliberately not copied.
        """
        t, shadows = size_outputs.target, size_outputs.shadows
        if labels is None:
            return cls(target_logits=t.logits, target_probs=t.probs, true_class=t.true_class,
                       target_aug_labels=t.aug_labels, shadows=list(shadows), target_name=t.name,
                       output_defense=output_defense)
        pop = t.pop_indices
        for s in shadows:
            if not np.array_equal(s.pop_indices, pop) or not np.array_equal(s.ref_indices, t.indices):
                raise ValueError(f"{s.name}: its population sample or reference records differ from the target's")
        pop_member = np.stack([np.isin(pop, s.indices[s.member]) for s in shadows])
        pop_true = np.asarray(labels)[pop].astype(np.int64)
        return cls(
            target_logits=t.logits, target_probs=t.probs, true_class=t.true_class, target_aug_labels=t.aug_labels,
            target_pop_logits=t.pop_logits, shadows=list(shadows), ref_logits=np.stack([s.ref_logits for s in shadows]),
            pop_true_class=pop_true,
            simulation=PopulationSimulation(np.stack([s.pop_logits for s in shadows]), pop_member, pop_true),
            target_name=t.name, output_defense=output_defense,
        )

    REFERENCE_PARTS = ("ref_logits", "target_pop_logits", "pop_true_class", "simulation")

    def __post_init__(self):
        """Every array checked once, at the boundary: shapes agree, values finite, classes in range."""
        n, c = _need_array("target_logits", self.target_logits, 2).shape
        probs = _need_array("target_probs", self.target_probs, 2, (n, c))
        if n and _rows_are_probabilities(np.asarray(self.target_logits)):
            raise AttackInputError("target_logits: these look like probabilities (all in [0, 1], rows summing to 1); "
                                   "give the pre-softmax outputs (mia_repro.views.arrays accepts probs= and converts them)")
        if n and not _rows_are_probabilities(probs):
            raise AttackInputError("target_probs: not probabilities (values in [0, 1], rows summing to 1); "
                                   "logits belong in target_logits")
        true = _need_array("true_class", self.true_class, 1, (n,), kind="i")
        if n and (true.min() < 0 or true.max() >= c):
            raise AttackInputError(f"true_class: classes must lie in 0..{c - 1}, got {true.min()}..{true.max()}")
        if self.target_aug_labels is None:
            self.target_aug_labels = np.zeros((0, n), np.int64)
        _need_array("target_aug_labels", self.target_aug_labels, 2, (None, n), kind="i")
        k = len(self.shadows)
        if k < 1:
            raise AttackInputError("shadows: the attacker needs at least one shadow model")
        given = [name for name in self.REFERENCE_PARTS if getattr(self, name) is not None]
        if given and len(given) < len(self.REFERENCE_PARTS):
            missing = [name for name in self.REFERENCE_PARTS if name not in given]
            raise AttackInputError(f"{', '.join(missing)}: the reference part of the view is all or nothing "
                                   f"(given: {', '.join(given)})")
        if given:
            p = _need_array("target_pop_logits", self.target_pop_logits, 2, (None, c)).shape[0]
            _need_array("ref_logits", self.ref_logits, 3, (k, n, c))
            _need_array("pop_true_class", self.pop_true_class, 1, (p,), kind="i")
            sim = self.simulation
            if sim.z_logits is None:
                _need_array("simulation.logits", sim.logits, 3, (k, p, c))
                _need_array("simulation.member", sim.member, 2, (k, p), kind="i")
            else:
                ks, q, _ = _need_array("simulation.logits", sim.logits, 3, (None, None, c)).shape
                _need_array("simulation.member", sim.member, 2, (ks, q), kind="i")
                _need_array("simulation.true_class", sim.true_class, 1, (q,), kind="i")
                _need_array("simulation.z_logits", sim.z_logits, 3, (ks, p, c))
                _need_array("simulation.z_member", sim.z_member, 2, (ks, p), kind="i")
        if self.ref_in is not None:
            if not given:
                raise AttackInputError("ref_in: given without the reference part of the view (ref_logits, ...)")
            self.ref_in = _need_array("ref_in", self.ref_in, 2, (k, n), kind="i").astype(bool)

    @property
    def has_references(self) -> bool:
        """Whether the reference part (OUT reference outputs, population sample) is present."""
        return self.ref_logits is not None

    @property
    def has_in_references(self) -> bool:
        """Whether some reference trained on some target record (``ref_in``): what the online attacks need."""
        return self.ref_in is not None and bool(self.ref_in.any()) and bool((~self.ref_in).any())

    def require_references(self, attack: str) -> None:
        """Raise :class:`AttackInputError` naming ``attack`` and what to give when the reference part is absent."""
        if not self.has_references:
            raise AttackInputError(f"{attack}: a reference-model attack needs the shadows' logits on the target's "
                                   f"records and a population sample (mia_repro.views.arrays: population=...; or Stage I)")

    def __repr__(self) -> str:
        n, c = np.shape(self.target_logits)
        ref = (f"references {tuple(np.shape(self.ref_logits))}, population {len(self.pop_true_class)}"
               if self.has_references else "no references")
        return (f"AttackerView(target {self.target_name!r}: {n} records x {c} classes, {len(self.shadows)} shadows "
                f"({sum(len(s.member) for s in self.shadows)} records), {ref}, "
                f"{np.shape(self.target_aug_labels)[0]} augmentations"
                + (", output defense" if self.output_defense is not None else "") + ")")

    def __len__(self) -> int:
        return len(self.true_class)

    def take(self, index) -> "AttackerView":
        """The view of the target records ``index`` (int (M,) positions or bool (N,)), in that order: every
        per-target-record array cut (logits, probabilities, classes, augmented answers, the references' logits
        on them and ``ref_in``); the shadows and the population are the attacker's and stay whole."""
        idx = np.asarray(index)
        if idx.dtype == bool and idx.shape == (len(self),):
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or (len(idx) and (
                idx.min() < -len(self) or idx.max() >= len(self))):
            raise AttackInputError(f"index: positions among the view's {len(self)} target records, or a mask of "
                                   f"that length")
        return dataclasses.replace(
            self, target_logits=self.target_logits[idx], target_probs=self.target_probs[idx],
            true_class=self.true_class[idx], target_aug_labels=self.target_aug_labels[:, idx],
            ref_logits=None if self.ref_logits is None else self.ref_logits[:, idx],
            ref_in=None if self.ref_in is None else self.ref_in[:, idx])

    @property
    def num_classes(self) -> int:
        return int(np.shape(self.target_logits)[1])

    def target_records(self) -> AttackData:
        """The target's records as :class:`AttackData` (what it exposes: its probabilities, through the
        output defense if any; ``log_true`` from its logits where they are exposed), membership unknown
        (all False placeholders)."""
        n = len(self)
        if self.output_defense is not None:
            return AttackData(np.asarray(self.output_defense(self.target_probs), np.float32), self.true_class,
                              np.zeros(n, bool), np.full(n, self.target_name))
        return AttackData(self.target_probs.astype(np.float32), self.true_class, np.zeros(n, bool),
                          np.full(n, self.target_name), -cross_entropy(self.target_logits, self.true_class))

    def shadow_records(self) -> AttackData:
        """The shadows' own records with their membership (:func:`attack_dataset`, through the output
        defense if any): what the attacks on one model's outputs learn from."""
        return attack_dataset(self.shadows, self.output_defense)


__all__ = ["AttackData", "AttackInputError", "AttackerView", "PopulationSimulation", "attack_dataset"]
