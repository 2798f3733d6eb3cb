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

import functools
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy.special import logsumexp
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_curve


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
    """Stack the records of several models' :class:`~mia_repro.stage1.ModelOutputs`.

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
    """

    logits: np.ndarray
    member: np.ndarray
    true_class: np.ndarray

    def as_target(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(target_logits (P, C), member (P,), ref_logits (K-1, P, C), ref_out (K-1, P) bool)``."""
        others = [k for k in range(len(self.logits)) if k != j]
        return self.logits[j], self.member[j], self.logits[others], ~self.member[others]


class AttackInputError(ValueError):
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
    Shadows: ``shadows`` (their :class:`~mia_repro.stage1.ModelOutputs`, or
    :class:`~mia_repro.own.ShadowOutputs`: own records with membership),
    ``ref_logits`` float32 (K, N, C) their logits on the target's records (all
    OUT).  Population: ``pop_true_class`` int64 (P,) and ``simulation``
    (:class:`PopulationSimulation`).  The reference part (``ref_logits``,
    ``target_pop_logits``, ``pop_true_class``, ``simulation``) is optional:
    without it the reference-model attacks say what they need
    (:meth:`require_references`); the others run.  Build one from Stage I
    (:meth:`from_stage1`) or from one's own models or arrays (:mod:`mia_repro.own`).
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

    @classmethod
    def from_stage1(cls, size_outputs, labels: np.ndarray) -> "AttackerView":
        """Build the view from Stage I's ``SizeOutputs``; ``labels`` int (N_total,) the pooled dataset's classes.

        The target's ``member`` array is deliberately not copied.
        """
        t, shadows = size_outputs.target, size_outputs.shadows
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
            target_name=t.name,
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
            _need_array("simulation.logits", self.simulation.logits, 3, (k, p, c))
            _need_array("simulation.member", self.simulation.member, 2, (k, p), kind="i")

    @property
    def has_references(self) -> bool:
        """Whether the reference part (OUT reference outputs, population sample) is present."""
        return self.ref_logits is not None

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
                f"{np.shape(self.target_aug_labels)[0]} augmentations)")

    def __len__(self) -> int:
        return len(self.true_class)

    def target_records(self) -> AttackData:
        """The target's records as :class:`AttackData`, membership unknown (all False placeholders)."""
        n = len(self)
        return AttackData(self.target_probs.astype(np.float32), self.true_class, np.zeros(n, bool),
                          np.full(n, self.target_name), -cross_entropy(self.target_logits, self.true_class))


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


class AttackNotFittedError(NotFittedError):
    """``score`` / ``predict`` called before ``fit`` (scikit-learn's :class:`~sklearn.exceptions.NotFittedError`)."""


def _requires_fit(method):
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        if not np.isfinite(self.threshold):
            raise AttackNotFittedError(f"{self.name or type(self).__name__} is not fitted: call fit(view) on the "
                                       f"attacker's data before {method.__name__}()")
        return method(self, *args, **kwargs)
    return checked


@dataclass
class MembershipAttack:
    """Base class: subclasses set ``name`` / ``paper`` and implement :meth:`fit` and :meth:`score`.

    ``fit(view)`` learns from the attacker's data and sets ``threshold``;
    ``score(view)`` returns float64 (N,) for the target's records (larger =
    more member); ``predict(view)`` is ``score >= threshold`` as int (N,).
    Both raise :class:`AttackNotFittedError` before ``fit`` (every subclass's
    ``score`` / ``predict`` is wrapped when the class is made).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("score", "predict"):
            if name in cls.__dict__ and not getattr(cls.__dict__[name], "_checks_fit", False):
                wrapped = _requires_fit(cls.__dict__[name])
                wrapped._checks_fit = True
                setattr(cls, name, wrapped)

    name: str = ""
    label: str = ""  # the short name tables and figures show, naming the variant (e.g. per-class thresholds)
    paper: str = ""
    threshold: float = float("nan")
    info: dict = field(default_factory=dict)

    def fit(self, view: AttackerView) -> "MembershipAttack":  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, view: AttackerView) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    @_requires_fit
    def predict(self, view: AttackerView) -> np.ndarray:
        return (self.score(view) >= self.threshold).astype(int)


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


def target_problem(view: AttackerView) -> ReferenceProblem:
    """The real attack: the target, its 2n records, every shadow as an OUT reference."""
    view.require_references("a reference-model attack")
    sim = view.simulation
    return ReferenceProblem(view.target_logits, view.true_class, view.ref_logits,
                            np.ones(view.ref_logits.shape[:2], bool), view.target_pop_logits, view.pop_true_class,
                            sim.logits, ~sim.member)


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
    out = []
    for j in range(len(sim.logits)):
        t_logits, member, r_logits, r_out = sim.as_target(j)
        keep = r_out.any(axis=0)
        out.append((ReferenceProblem(t_logits[keep], sim.true_class[keep], r_logits[:, keep], r_out[:, keep],
                                     t_logits, sim.true_class, r_logits, r_out), member[keep]))
    return out


def simulate(view: AttackerView, score_fn: Callable[[ReferenceProblem], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(score, member)`` of ``score_fn`` over every simulated problem, concatenated."""
    pairs = [(score_fn(p), m) for p, m in simulated_problems(view)]
    return np.concatenate([s for s, _ in pairs]), np.concatenate([m for _, m in pairs])


@dataclass
class ReferenceAttack(MembershipAttack):
    """A reference-model attack: subclasses define :meth:`problem_score`; the threshold maximizes
    balanced accuracy on the population simulation (:func:`simulate`)."""

    def problem_score(self, problem: ReferenceProblem) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def fit(self, view: AttackerView) -> "ReferenceAttack":
        view.require_references(self.name)
        score, member = simulate(view, self.problem_score)
        self.threshold = balanced_threshold(member, score)
        self.info = {**self.info, "simulated_records": int(len(member)), "simulated_members": int(member.sum())}
        return self

    def score(self, view: AttackerView) -> np.ndarray:
        view.require_references(self.name)
        return self.problem_score(target_problem(view))


def masked_mean_std(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record mean, standard deviation and count of ``values`` (R, N) over entries where ``mask`` (R, N)."""
    w = np.asarray(mask, dtype=np.float64)
    count = w.sum(axis=0)
    safe = np.maximum(count, 1)
    mean = (values * w).sum(axis=0) / safe
    var = (((values - mean) ** 2) * w).sum(axis=0) / np.maximum(count - 1, 1)
    return mean, np.sqrt(var), count
