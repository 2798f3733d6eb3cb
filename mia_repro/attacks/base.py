"""What every attack shares: the attacker's view of one size, the interface, and the signals.

**The interface.**  An attack is fit on what the attacker has (an
:class:`AttackerView`: the target's outputs on its records *without* their
membership, the shadows' own records *with* theirs, the shadows' reference
outputs on the target's records, and everyone's outputs on the population
sample), then returns for every target record a ``score`` (float64, larger =
more likely a member) and a 0/1 decision ``score >= threshold``, where the
threshold was chosen on the attacker's data.  The target's membership labels
are not in the view; evaluation receives them separately.

**The attacker's labelled data** comes in two forms.  Attacks on one model's
outputs (Shokri, thresholds, label-only) learn from the shadows' own records.
Reference-model attacks learn from a *simulation* on the population sample
(:meth:`AttackerView.simulation`): each shadow in turn plays the target, its
population records are labelled by whether it trained on them, and the other
shadows that did not train on a record are its OUT references.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_curve

from mia_repro.attacks.registry import Registered
from mia_repro.errors import MiaReproError, MiaReproInputError


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


# ---------------------------------------------------------------- signals (from logits, numerically stable)

def log_softmax(logits: np.ndarray) -> np.ndarray:
    """float64 (N, C) log-probabilities of float logits (N, C)."""
    z = np.asarray(logits, dtype=np.float64)
    return z - logsumexp(z, axis=-1, keepdims=True)


def _true(values: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    return np.take_along_axis(values, np.asarray(true_class)[..., None], axis=-1)[..., 0]


def cross_entropy(logits: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    """float64 (..., N): the loss ``-log p_y``; ``logits`` (..., N, C), ``true_class`` int (N,).

    Computed as ``softplus(-phi)`` with ``phi`` the logit-scaled confidence
    (:func:`logit_confidence`), i.e. ``log(1 + sum_{j != y} exp(z_j - z_y))``:
    accurate to float64's relative precision even where the loss is far below
    1e-16 (``logsumexp(z) - z_y`` rounds those to exactly 0, which tied
    hundreds of overfit records).
    """
    return np.logaddexp(0.0, -logit_confidence(logits, true_class))


def logit_confidence(logits: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    """float64 (..., N): LiRA's logit-scaled confidence ``log p_y - log(1 - p_y)``.

    Computed as ``z_y - logsumexp_{j != y} z_j`` (Carlini et al. 2022, Sec. IV-B),
    which stays finite where ``p_y`` rounds to 1.0 in float32.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.broadcast_to(true_class, z.shape[:-1])
    others = np.where(np.arange(z.shape[-1]) == y[..., None], -np.inf, z)
    return _true(z, y) - logsumexp(others, axis=-1)


# ---------------------------------------------------------------- the attacker's view

@dataclass
class PopulationSimulation:
    """Labelled data simulated on the population sample (see the module docstring).

    For K shadows and P population records: ``logits`` float32 (K, P, C) every
    shadow's logits; ``member`` bool (K, P) whether shadow k trained on record
    p; ``true_class`` int64 (P,).  :meth:`as_target` gives, for shadow j as the
    simulated target, its outputs, the labels, and the other shadows' outputs
    with a mask of those that are OUT for each record.

    Optional, for a pool of reference models (:mod:`mia_repro.reference_pool`), where the labelled
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
    :class:`~mia_repro.own.ShadowOutputs`: own records with membership),
    ``ref_logits`` float32 (K, N, C) their logits on the target's records (all
    OUT).  Population: ``pop_true_class`` int64 (P,) and ``simulation``
    (:class:`PopulationSimulation`).  The reference part (``ref_logits``,
    ``target_pop_logits``, ``pop_true_class``, ``simulation``) is optional:
    without it the reference-model attacks say what they need
    (:meth:`require_references`); the others run.  ``output_defense`` (optional): a function
    float (N, C) -> float32 (N, C) applied to every prediction vector the models expose (an output-side
    defense, :mod:`mia_repro.defenses`); such a view hides the logits, so only the attacks on exposed
    probabilities run (``needs_logits`` False).  ``ref_in`` (optional) bool (K, N): which references
    trained on each target record (a pool of reference models, :mod:`mia_repro.reference_pool`; None: every
    reference is OUT for every target record, as Shokri's shadows are), what the online attacks need.
    Build one from Stage I (:meth:`from_stage1`), from a reference pool, or from one's own models or arrays
    (:mod:`mia_repro.own`).
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
                                   "give the pre-softmax outputs (mia_repro.own accepts probs= and converts them)")
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
                                   f"records and a population sample (mia_repro.own: population=...; or Stage I)")

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


# ---------------------------------------------------------------- thresholds and the interface

def balanced_threshold(member: np.ndarray, score: np.ndarray) -> float:
    """The threshold ``t`` (decision ``score >= t``) that maximizes balanced accuracy on labelled data.

    ``member`` bool (N,), ``score`` float (N,).  Balanced accuracy, (TPR + TNR) / 2,
    because simulated data are not balanced (few population records are members).
    """
    member = np.asarray(member, dtype=bool)
    if member.all() or not member.any():
        raise ValueError("choosing a threshold needs members and non-members in the attacker's data")
    fpr, tpr, thr = roc_curve(member, score)
    best = int(np.argmax(tpr - fpr))
    return float(thr[best]) if np.isfinite(thr[best]) else float(np.max(score))


def fpr_threshold(member: np.ndarray, score: np.ndarray, fpr: float) -> float:
    """The smallest threshold ``t`` (decision ``score >= t``) at which at most a share ``fpr`` of the
    non-members of labelled data (``member`` bool (N,), ``score`` float (N,)) is called a member: the
    threshold an attacker sets on its references for a target false-positive rate."""
    member = np.asarray(member, dtype=bool)
    out = np.sort(np.asarray(score, np.float64)[~member])[::-1]
    if not len(out):
        raise ValueError("choosing a threshold for a false-positive rate needs non-members in the attacker's data")
    allowed = int(np.floor(fpr * len(out) + 1e-9))  # false positives allowed
    if allowed >= len(out):
        return float(out[-1])
    # above the (allowed+1)-th largest non-member score; ties at that score are all excluded
    return float(np.nextafter(out[allowed], np.inf))


class AttackNotFittedError(NotFittedError, MiaReproError):
    """``score`` / ``predict`` called before ``fit`` (scikit-learn's :class:`~sklearn.exceptions.NotFittedError`)."""


def _learned_attributes(obj) -> list[str]:
    """What ``fit`` set on ``obj``: public attributes ending in ``_`` (scikit-learn's convention)."""
    return [k for k in vars(obj) if k.endswith("_") and not k.startswith("_")]


def _checked_fit(fit):
    """``fit`` as every attack runs it: the view checked, every learned attribute of an earlier fit removed
    first, ``threshold_`` checked after (a finite scalar, or one per class), ``info_`` always set; a fit that
    raises leaves nothing learned behind."""
    @functools.wraps(fit)
    def checked(self, view, *args, **kwargs):
        depth = self.__dict__.get("_fit_depth", 0)
        if depth == 0:  # the outermost fit (a subclass's fit may call its parent's)
            from mia_repro.attacks.params import check_params

            self.check_view(view)
            for k in _learned_attributes(self):
                delattr(self, k)
            check_params(self)  # after: a refit with a bad parameter leaves the attack unfitted
        self._fit_depth = depth + 1
        try:
            fit(self, view, *args, **kwargs)
            if depth == 0:
                _check_threshold(self, view)
        except BaseException:
            if depth == 0:  # a fit that failed leaves the attack unfitted, not half-fitted
                for k in _learned_attributes(self):
                    delattr(self, k)
            raise
        finally:
            if depth:
                self._fit_depth = depth
            else:
                del self._fit_depth
        if depth == 0:
            if not hasattr(self, "info_"):
                self.info_ = {}
            self.n_classes_ = view.num_classes
        return self
    checked._checks_fit = True
    return checked


def _check_threshold(attack, view: "AttackerView") -> None:
    name = attack.name or type(attack).__name__
    if not hasattr(attack, "threshold_"):
        raise TypeError(f"{name}.fit set no threshold_ (the decision is score >= threshold_)")
    t = np.asarray(attack.threshold_, dtype=np.float64)
    c = view.num_classes
    if t.shape not in ((), (c,)) or not np.isfinite(t).all():
        raise TypeError(f"{name}.fit: threshold_ must be one finite number or one per class ({c}), got {t!r}")


def _checked_score(score):
    """``score`` as every attack runs it: fitted, the view checked, float64 (N,) finite out."""
    @functools.wraps(score)
    def checked(self, view, *args, **kwargs):
        self.check_fitted(score.__name__)
        self.check_view(view)
        self.check_classes(view)
        out = np.asarray(score(self, view, *args, **kwargs), dtype=np.float64)
        if out.shape != (len(view),) or not np.isfinite(out).all():
            raise TypeError(f"{self._who()}.{score.__name__} must return {len(view)} finite "
                            f"numbers (one per target record), got shape {out.shape}")
        return out
    checked._checks_fit = True
    return checked


class MembershipAttack(BaseEstimator):
    """Base class of every attack: a scikit-learn estimator on an :class:`AttackerView`.

    * Constructor arguments are the attack's parameters and nothing else (``get_params`` / ``set_params`` /
      :func:`sklearn.base.clone` work; ``repr`` shows the parameters).
    * :meth:`fit` learns from the attacker's data only and returns ``self``; what it learns ends in ``_``
      (``threshold_``, ``info_``, ``n_classes_``, ...), does not exist before ``fit`` and is replaced by
      every ``fit``.
    * :meth:`decision_function` returns float64 (N,) for the target's records (larger = more member;
      :meth:`score` is its alias); :meth:`predict` is ``decision_function >= threshold_`` as int (N,), where ``threshold_`` is one number or one per
      true class (:meth:`thresholds`).  Both raise :class:`AttackNotFittedError` before ``fit``.
    * ``name`` / ``label`` / ``paper`` come from :func:`~mia_repro.attacks.registry.register` above the class;
      what the attack needs (``needs_references``, ``needs_augmentations``, ``needs_logits``) are class
      attributes.

    A subclass implements ``fit(view)`` (setting ``threshold_``) and ``decision_function(view)``; both are
    wrapped when the class is made (the checks above).  It may not override ``predict``.
    :func:`~mia_repro.attacks.checks.check_attack` checks the whole contract on an instance.
    """

    #: the public name (:func:`~mia_repro.attacks.registry.register`; the name whose parameters an instance has)
    name = Registered()
    label = Registered()  # the short name tables and figures show, naming the variant (e.g. per-class thresholds)
    long_label = Registered()  # where variants sit side by side (the reference pool): names what tells them apart
    paper = Registered()  # the paper, algorithm and equation it implements
    #: needs the shadows' outputs on the target's records and a population sample (the view's reference part)
    needs_references: ClassVar[bool] = False
    #: needs the target's answers on augmented queries (``target_aug_labels``)
    needs_augmentations: ClassVar[bool] = False
    #: needs references that trained on target records (``ref_in``): the online attacks
    needs_in_references: ClassVar[bool] = False
    #: reads the target's logits (refused where the view exposes post-processed probabilities only)
    needs_logits: ClassVar[bool] = True
    #: ``{parameter: [constraints]}`` as scikit-learn's (:mod:`~mia_repro.attacks.params`), checked when fit starts
    _parameter_constraints: ClassVar[dict] = {}
    #: a record's score does not depend on which other target records are scored with it (False where the
    #: attack pools a statistic over the target's records by design; :func:`~mia_repro.attacks.check_attack`)
    records_independent: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "predict" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: predict is score >= threshold_ for every attack; set threshold_ "
                            f"(one number, or one per class) in fit instead of overriding predict")
        if "score" in cls.__dict__ and "decision_function" not in cls.__dict__:
            import warnings

            warnings.warn(f"{cls.__name__}: define decision_function(view) for the per-record scores; score(view) "
                          f"is its alias (scikit-learn's score is one number), used as decision_function here",
                          FutureWarning, stacklevel=2)
            cls.decision_function = cls.__dict__["score"]
            del cls.score
        for method, wrap in (("fit", _checked_fit), ("decision_function", _checked_score)):
            f = cls.__dict__.get(method)
            if f is not None and not getattr(f, "_checks_fit", False):
                setattr(cls, method, wrap(f))

    def _who(self) -> str:
        """The attack's name for messages: its registered name, else its class's."""
        return self.name or type(self).__name__

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "threshold_")

    def check_fitted(self, method: str = "score") -> None:
        """Raise :class:`AttackNotFittedError` naming the attack unless it is fitted."""
        if not self.__sklearn_is_fitted__():
            raise AttackNotFittedError(f"{self._who()} is not fitted: call fit(view) on the "
                                       f"attacker's data before {method}()")

    def check_classes(self, view: "AttackerView") -> None:
        """Raise :class:`AttackInputError` unless ``view`` has as many classes as the view it was fit on
        (``n_classes_``, like scikit-learn's ``n_features_in_``)."""
        fitted = getattr(self, "n_classes_", None)
        if fitted is not None and view.num_classes != fitted:
            raise AttackInputError(f"{self._who()}: fit on outputs of {fitted} classes, "
                                   f"this view has {view.num_classes}")

    def check_view(self, view: "AttackerView") -> None:
        """Raise :class:`AttackInputError` unless ``view`` is an :class:`AttackerView` with what this attack
        needs (its class attributes ``needs_*``)."""
        if not isinstance(view, AttackerView):
            raise AttackInputError(f"{self._who()}: expected an AttackerView (mia_repro.own.view_from_arrays / "
                                   f"view_from_models, or AttackerView.from_stage1), got {type(view).__name__}")
        if self.needs_references and not view.has_references:
            view.require_references(self._who())
        if self.needs_augmentations and not view.target_aug_labels.shape[0]:
            raise AttackInputError(f"{self._who()}: needs the target's answers on augmented queries (target_aug_labels)")
        if self.needs_in_references and not view.has_in_references:
            raise AttackInputError(f"{self._who()}: an online attack needs reference models trained with the target's "
                                   f"records (IN) as well as without (a reference pool, ref_in); Shokri's shadows "
                                   f"are OUT for every target record: use the offline variant")
        if self.needs_logits and view.output_defense is not None:
            raise AttackInputError(f"{self._who()}: reads the target's logits, which this view hides (it exposes "
                                   f"post-processed probabilities only)")

    def fit(self, view: "AttackerView") -> "MembershipAttack":  # pragma: no cover - interface
        raise NotImplementedError

    def decision_function(self, view: "AttackerView") -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, view: "AttackerView", y=None) -> np.ndarray:
        """:meth:`decision_function`'s alias: float64 (N,), one score per target record.  Not scikit-learn's
        ``score(X, y)`` (one number): given ``y`` it raises TypeError, so ``cross_val_score`` and the like
        cannot mistake it for an accuracy; use :func:`mia_repro.metrics.attack_metrics` for numbers."""
        if y is not None:
            raise TypeError(f"{self._who()}.score(view) is the per-record scores "
                            f"(decision_function), not scikit-learn's score(X, y); for an AUC or a TPR at low FPR "
                            f"use mia_repro.metrics.attack_metrics(member, attack.decision_function(view), "
                            f"attack.predict(view))")
        return self.decision_function(view)

    def regime_warning(self, view: "AttackerView") -> str | None:
        """A sentence when this attack would run on ``view`` where it is known to be unreliable (e.g. LiRA's
        per-record variances from few references), else None; ``run_attacks`` and the reports repeat it."""
        return None

    def thresholds(self, view: "AttackerView") -> np.ndarray:
        """float64 (N,): the threshold each target record's score is compared with (``threshold_``, or its
        true class's entry where ``threshold_`` holds one per class)."""
        self.check_fitted("thresholds")
        t = np.asarray(self.threshold_, dtype=np.float64)
        return np.full(len(view), float(t)) if t.ndim == 0 else t[np.asarray(view.true_class)]

    def predict(self, view: "AttackerView") -> np.ndarray:
        """int64 (N,): 1 = member, i.e. ``decision_function(view) >= thresholds(view)``."""
        self.check_fitted("predict")
        score = self.decision_function(view)
        return (score >= self.thresholds(view)).astype(np.int64)
