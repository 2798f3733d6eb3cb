"""The attacker's view from arrays: the outputs of one's own target and shadows, named for what they are.

:func:`view_from_arrays` builds an :class:`~mia_repro.attacks.AttackerView` from logits or probabilities
(``logits=`` vs ``probs=``), labels and, for shadows, membership; :func:`as_logits` is the one conversion
(probabilities become log-probabilities, float64).  Every array is checked at the boundary
(:class:`~mia_repro.views.mistakes.OwnInputError`, naming the argument): shapes, dtypes, finite values,
labels in range, probability rows in [0, 1] summing to 1, and "logits" that look like probabilities (all
in [0, 1], rows summing to 1) -- the softmax passed where logits are expected, which would silently weaken
LiRA and RMIA.  A shadow or reference whose outputs repeat the target's is refused
(:mod:`mia_repro.views.mistakes`).  Nothing here imports Keras.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from mia_repro.attacks.view import AttackerView, PopulationSimulation, _rows_are_probabilities
from mia_repro.attacks.signals import log_softmax
from mia_repro.views.mistakes import OwnInputError, check_not_copies

__all__ = ["OwnInputError", "ShadowOutputs", "as_logits", "view_from_arrays"]


def _looks_like_probs(a: np.ndarray) -> bool:
    """Values in [0, 1] whose rows sum to 1 within what rounding to one decimal can move them (0.05 per class,
    at least 0.06): probabilities, rounded as like as not (real logits are not confined to [0, 1] with rows
    summing to about one)."""
    atol = max(0.06, 0.05 * a.shape[-1]) if a.ndim else 0.06
    return bool(a.size) and bool(a.min() >= 0 and a.max() <= 1 and np.allclose(a.sum(axis=-1), 1, atol=atol))


#: the largest logit magnitude accepted: far above any trained network's, far below float64's overflow of x**2
LOGIT_LIMIT = 1e8


def as_logits(name: str, logits=None, probs=None) -> np.ndarray:
    """float64 (N, C) logits from exactly one of ``logits`` / ``probs`` (N, C), checked.

    ``probs`` are turned into log-probabilities (valid logits: their softmax is ``probs``); precision below
    the float32 probabilities is lost there, so give logits when the model has them.
    """
    if (logits is None) == (probs is None):
        raise OwnInputError(f"{name}: give exactly one of {name}_logits= / {name}_probs= (or logits= / probs=)")
    kind = "logits" if probs is None else "probs"
    a = np.asarray(logits if probs is None else probs)
    if a.ndim != 2 or a.shape[1] < 2:
        raise OwnInputError(f"{name} {kind}: expected shape (records, classes >= 2), got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise OwnInputError(f"{name} {kind}: expected floats, got {a.dtype}")
    bad = int((~np.isfinite(a)).sum())
    if bad:
        raise OwnInputError(f"{name} {kind}: {bad} non-finite values (NaN or inf)")
    if kind == "logits":
        big = float(np.abs(a).max()) if a.size else 0.0
        if big > LOGIT_LIMIT:
            raise OwnInputError(f"{name} logits: magnitudes up to {big:.3g}, above {LOGIT_LIMIT:.0e}: the attacks' "
                                "statistics (squares, exponentials) overflow float64 there; pass the model's "
                                "pre-softmax outputs, or log-probabilities")
        if _looks_like_probs(a):
            off = float(np.abs(a.sum(axis=-1) - 1).max())
            if off > 1e-3:
                raise OwnInputError(f"{name} logits: these look like rounded probabilities (all in [0, 1], rows "
                                    f"summing to 1 within {off:.2g}); rounding erases what the attacks measure: "
                                    f"give the model's unrounded outputs (pre-softmax as logits=, or probs=)")
            raise OwnInputError(f"{name} logits: these look like probabilities (all in [0, 1], rows summing to 1); "
                                f"pass them as probs=, or give the pre-softmax outputs")
        return a.astype(np.float64)
    if not _rows_are_probabilities(a):
        raise OwnInputError(f"{name} probs: not probabilities (values in [0, 1], rows summing to 1); "
                            f"pre-softmax outputs go in logits=")
    return np.log(np.maximum(a.astype(np.float64), np.finfo(np.float64).tiny))


def _labels(name: str, labels, n: int, c: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise OwnInputError(f"{name}: expected {n} labels (one per record), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise OwnInputError(f"{name}: expected integer class labels, got {y.dtype}")
    if n and (y.min() < 0 or y.max() >= c):
        raise OwnInputError(f"{name}: labels must lie in 0..{c - 1} (the outputs have {c} classes), "
                            f"got {y.min()}..{y.max()}")
    return y.astype(np.int64)


def _member(name: str, member, n: int) -> np.ndarray:
    m = np.asarray(member)
    if m.shape != (n,):
        raise OwnInputError(f"{name}: expected {n} membership flags (one per record), got shape {m.shape}")
    if m.dtype != bool and not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
        raise OwnInputError(f"{name}: expected booleans or 0/1 (1 = trained on the record)")
    m = m.astype(bool)
    if m.all() or not m.any():
        raise OwnInputError(f"{name}: needs members and non-members (the attacks learn from both)")
    return m


@dataclass(repr=False)
class ShadowOutputs:
    """One shadow model's outputs on its own records: ``logits`` float64 (n, C), ``probs`` float32 (n, C)
    (their softmax, the Shokri SVM's features), ``true_class`` int64 (n,), ``member`` bool (n,),
    ``aug_labels`` (0, n) (no augmented queries)."""

    name: str
    logits: np.ndarray
    true_class: np.ndarray
    member: np.ndarray
    probs: np.ndarray = field(default=None)
    aug_labels: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.probs is None:
            self.probs = np.exp(log_softmax(self.logits)).astype(np.float32)
        if self.aug_labels is None:
            self.aug_labels = np.zeros((0, len(self.member)), np.int64)

    def __repr__(self) -> str:
        return (f"ShadowOutputs({self.name!r}: {len(self.member)} records ({int(self.member.sum())} members) x "
                f"{self.logits.shape[1]} classes)")


def view_from_arrays(target_labels, shadow_labels: Sequence, shadow_member: Sequence, *, target_logits=None,
                     target_probs=None, shadow_logits: Sequence | None = None, shadow_probs: Sequence | None = None,
                     reference_logits=None, reference_probs=None, population_labels=None, population_member=None,
                     population_logits=None, population_probs=None, target_population_logits=None,
                     target_population_probs=None) -> AttackerView:
    """The attacker's view from arrays.

    Target: ``target_logits`` or ``target_probs`` (N, C) on its N records, ``target_labels`` int (N,) --
    membership is *not* given here (it goes to :func:`run_attacks`, for evaluation only).  Shadows (K of
    them): per shadow ``shadow_logits[k]`` or ``shadow_probs[k]`` (n_k, C) on its own records,
    ``shadow_labels[k]`` (n_k,), ``shadow_member[k]`` bool (n_k,).  Optional, all together, for the
    reference-model attacks: ``reference_logits``/``_probs`` (K, N, C) the shadows' outputs on the target's
    records (which no shadow trained on); a population sample of P records with ``population_labels``
    (P,), ``population_member`` bool (K, P) (whether shadow k trained on record p: some must have),
    ``population_logits``/``_probs`` (K, P, C) and ``target_population_logits``/``_probs`` (P, C).
    """
    t_logits = as_logits("target", target_logits, target_probs)
    n, c = t_logits.shape
    true = _labels("target_labels", target_labels, n, c)
    k = len(shadow_labels)
    if k < 1 or len(shadow_member) != k:
        raise OwnInputError(f"shadows: give labels and membership for each of at least one shadow "
                            f"(got {k} label arrays, {len(shadow_member)} membership arrays)")
    per_shadow = shadow_logits if shadow_logits is not None else [None] * k
    per_shadow_p = shadow_probs if shadow_probs is not None else [None] * k
    if len(per_shadow) != k or len(per_shadow_p) != k:
        raise OwnInputError(f"shadows: one output array per shadow ({k}), got {len(per_shadow)} / {len(per_shadow_p)}")
    shadows = []
    for j in range(k):
        z = as_logits(f"shadow {j}", per_shadow[j], per_shadow_p[j])
        if z.shape[1] != c:
            raise OwnInputError(f"shadow {j}: {z.shape[1]} classes, the target has {c}")
        shadows.append(ShadowOutputs(f"shadow_{j:02d}", z, _labels(f"shadow_labels[{j}]", shadow_labels[j], len(z), c),
                                     _member(f"shadow_member[{j}]", shadow_member[j], len(z))))
    parts = {"reference": (reference_logits, reference_probs), "population": (population_logits, population_probs),
             "target_population": (target_population_logits, target_population_probs)}
    given = [p for p, (a, b) in parts.items() if a is not None or b is not None]
    given += [p for p, v in (("population_labels", population_labels), ("population_member", population_member))
              if v is not None]
    reference = {}
    if given:
        if len(given) < 5:
            raise OwnInputError("reference attacks need all of reference_logits, population_logits, "
                                "target_population_logits, population_labels and population_member "
                                f"(given: {', '.join(given)})")
        ref = np.stack([as_logits(f"reference {j}", *(None if a is None else a[j] for a in parts["reference"]))
                        for j in range(_count("reference", parts["reference"], k))])
        if ref.shape != (k, n, c):
            raise OwnInputError(f"reference: expected shape ({k}, {n}, {c}) (shadows x target records x classes), "
                                f"got {ref.shape}")
        tpop = as_logits("target_population", *parts["target_population"])
        p = len(tpop)
        pop_true = _labels("population_labels", population_labels, p, c)
        pop = np.stack([as_logits(f"population {j}", *(None if a is None else a[j] for a in parts["population"]))
                        for j in range(_count("population", parts["population"], k))])
        if pop.shape != (k, p, c):
            raise OwnInputError(f"population: expected shape ({k}, {p}, {c}) (shadows x population records x "
                                f"classes), got {pop.shape}")
        pm = np.asarray(population_member)
        if pm.shape != (k, p) or not (pm.dtype == bool or np.isin(pm, (0, 1)).all()):
            raise OwnInputError(f"population_member: expected booleans of shape ({k}, {p}), got {pm.shape} {pm.dtype}")
        pm = pm.astype(bool)
        if not pm.any() or pm.all(axis=0).all():
            raise OwnInputError("population_member: the simulation needs population records that some shadows "
                                "trained on and others did not")
        reference = dict(target_pop_logits=tpop, ref_logits=ref, pop_true_class=pop_true,
                         simulation=PopulationSimulation(pop, pm, pop_true))
    check_not_copies(t_logits, {**{f"shadow {j}": sh.logits for j, sh in enumerate(shadows)},
                                **{f"reference {j}": z for j, z in enumerate(reference.get("ref_logits", ()))}})
    return AttackerView(target_logits=t_logits, target_probs=np.exp(log_softmax(t_logits)).astype(np.float32),
                        true_class=true, shadows=shadows, **reference)


def _count(name: str, pair: tuple, k: int) -> int:
    a = pair[0] if pair[0] is not None else pair[1]
    if len(a) != k:
        raise OwnInputError(f"{name}: one output array per shadow ({k}), got {len(a)}")
    return k
