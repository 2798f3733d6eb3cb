"""Attack a model of one's own with the package's attacks: the attacker's view, the attacks, a results table.

Two ways to build the attacker's view (:class:`~mia_repro.attacks.AttackerView`):

* :func:`view_from_models` -- Keras models and the records they were queried on: the target and its
  records (indices into ``x`` / ``y``), each shadow with its own records and their membership, and
  optionally a ``population`` sample (indices) that turns on the reference-model attacks (LiRA, RMIA,
  calibrated loss): the shadows then serve as OUT references on the target's records and, on the
  population, simulate the attack for the attacker's thresholds;
* :func:`view_from_arrays` -- the same from arrays: logits or probabilities (named for what they are:
  ``logits=`` vs ``probs=``), labels and, for shadows, membership.

* :func:`view_from_pool` -- a pool of one's own reference models, some trained on each target record and
  some not (their masks known): the online attacks (``lira_online_global``, ``rmia_online_tuned``, ... of
  :data:`mia_repro.attacks.ONLINE_ATTACKS`) run on it beside the offline ones.

Then :func:`~mia_repro.evaluation.run_attacks` fits attacks (names of :data:`mia_repro.attacks.ATTACKS`,
configured instances, or a :class:`~mia_repro.attacks.MembershipAttack` subclass of one's own) on the view
and scores the target's records; evaluation alone uses the target's membership labels, which the view
never holds.  It returns :class:`~mia_repro.evaluation.AttackResults`: ``summary()`` (a table: AUC, TPR
at 1% / 0.1% FPR with bootstrap 95% intervals, precision, recall), ``to_frame()``, per attack an
:class:`~mia_repro.evaluation.AttackResult` (``results[name].scores``: ``member``, ``true_class``,
``score``, ``pred``, ``threshold``), ``per_record(record_ids)`` (a table keyed by record id), ``save(path)``; :func:`mia_repro.reporting.plots.results_roc` draws their ROC / ``load(path)``.  Nothing here
imports Keras but :func:`view_from_models`, which queries Keras models.

Per-record risk on a pool view: :func:`pvalues` (per record the p-value of "not a member" from the OUT
references) and :func:`members_at_fdr` (the records called members at a false-discovery rate, by
Benjamini-Hochberg over those p-values).

Every array is checked at the boundary (:class:`OwnInputError`, naming the argument): shapes, dtypes,
finite values, labels in range, probability rows in [0, 1] summing to 1, and "logits" that look like
probabilities (all in [0, 1], rows summing to 1) -- the softmax passed where logits are expected, which
would silently weaken LiRA and RMIA.  A shadow or reference whose outputs repeat the target's is refused,
and :func:`run_attacks` warns when labels look misaligned or membership inverted (:mod:`mia_repro.mistakes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from mia_repro.attacks import AttackerView
from mia_repro.attacks.base import PopulationSimulation, _rows_are_probabilities, log_softmax
from mia_repro.evaluation import AttackResult, AttackResults, run_attacks
from mia_repro.mistakes import OwnInputError, check_not_copies

__all__ = ["AttackResult", "AttackResults", "OwnInputError", "ShadowOutputs", "as_logits", "members_at_fdr",
           "pvalues", "run_attacks", "view_from_arrays", "view_from_models", "view_from_pool"]


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


def view_from_models(target, target_records, shadows: Sequence, x: np.ndarray, y: np.ndarray,
                     population=None, outputs: str = "logits", batch_size: int = 512) -> AttackerView:
    """The attacker's view from Keras models, queried here.

    ``target``: the attacked model; ``target_records`` int (N,) indices into ``x`` / ``y`` of the records
    to attack (members and non-members; which is which goes to :func:`run_attacks`).  ``shadows``: a list
    of ``(model, records int (n_k,), member bool (n_k,))``.  ``population`` (optional) int (P,) indices
    of records some shadows trained on and others not (e.g. the union of the shadows' records): turns on
    the reference-model attacks.  ``outputs``: what the models return, "logits" (pre-softmax; the
    default) or "probs" (a softmax output layer).  No shadow may have trained on a target record.
    """
    from mia_repro.quiet import keras  # noqa: F401 - the backend's console noise filtered

    if outputs not in ("logits", "probs"):
        raise OwnInputError(f"outputs: 'logits' or 'probs', got {outputs!r}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or y.ndim != 1:
        raise OwnInputError(f"x, y: one label per record, got {len(x)} records and labels of shape {y.shape}")
    idx_t = _indices("target_records", target_records, len(y))

    def query(model, idx):
        out = np.asarray(model.predict(x[idx], batch_size=batch_size, verbose=0))
        if outputs == "logits" and np.issubdtype(out.dtype, np.floating) and out.ndim == 2 and _looks_like_probs(out):
            raise OwnInputError("outputs: the models return what look like probabilities (a softmax output layer); "
                                "pass outputs='probs', or end the model with Dense(classes) and no activation")
        return {outputs: out}

    s_logits, s_labels, s_member, s_trained = [], [], [], []
    for j, item in enumerate(shadows):
        if not (isinstance(item, (tuple, list)) and len(item) == 3):
            raise OwnInputError(f"shadows[{j}]: expected (model, records, member), got {type(item).__name__}")
        model, records, member = item
        idx = _indices(f"shadows[{j}] records", records, len(y))
        m = _member(f"shadows[{j}] member", member, len(idx))
        overlap = np.intersect1d(idx[m], idx_t)
        if len(overlap):
            raise OwnInputError(f"shadows[{j}]: trained on {len(overlap)} of the target's records; a shadow must "
                                f"not have seen them (it is their OUT reference)")
        s_logits.append(as_logits(f"shadow {j}", **query(model, idx)))
        s_labels.append(y[idx])
        s_member.append(m)
        s_trained.append(idx[m])
    extra = {}
    if population is not None:
        idx_p = _indices("population", population, len(y))
        inside = len(np.intersect1d(idx_p, idx_t))
        if inside:
            raise OwnInputError(f"population: {inside} of the target's records; the population must come from "
                                f"outside them (e.g. the shadows' records)")
        extra = dict(reference_logits=np.stack([as_logits(f"reference {j}", **query(item[0], idx_t))
                                                for j, item in enumerate(shadows)]),
                     population_logits=np.stack([as_logits(f"population {j}", **query(item[0], idx_p))
                                                 for j, item in enumerate(shadows)]),
                     population_member=np.stack([np.isin(idx_p, t) for t in s_trained]),
                     population_labels=y[idx_p], target_population_logits=as_logits("target_population",
                                                                                    **query(target, idx_p)))
    return view_from_arrays(y[idx_t], s_labels, s_member, target_logits=as_logits("target", **query(target, idx_t)),
                            shadow_logits=s_logits, **extra)


def _indices(name: str, idx, n_total: int) -> np.ndarray:
    a = np.asarray(idx)
    if a.ndim != 1 or not len(a) or not np.issubdtype(a.dtype, np.integer):
        raise OwnInputError(f"{name}: expected a non-empty 1-D array of integer record indices, got "
                            f"shape {a.shape} {a.dtype}")
    if a.min() < 0 or a.max() >= n_total:
        raise OwnInputError(f"{name}: indices must lie in 0..{n_total - 1}, got {a.min()}..{a.max()}")
    if len(np.unique(a)) != len(a):
        raise OwnInputError(f"{name}: {len(a) - len(np.unique(a))} repeated indices")
    return a


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
    from mia_repro.reference_pool import PoolInputError, ReferencePool

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


def pvalues(view: AttackerView, calibrated: bool = True) -> np.ndarray:
    """float64 (N,): per target record the p-value of "the target did not train on it", from its OUT
    references (:func:`mia_repro.pool_evaluation.out_pvalues`: the target's logit-scaled confidence against
    the OUT Gaussian, calibrated on the attacker's simulation).  Needs a view with references."""
    from mia_repro.pool_evaluation import out_pvalues

    if not isinstance(view, AttackerView) or not view.has_references:
        raise OwnInputError("view: an AttackerView with reference models (view_from_pool, or view_from_arrays with "
                            "reference_logits=...)")
    return out_pvalues(view, calibrated)


def members_at_fdr(view: AttackerView, q: float = 0.05, record_ids=None, calibrated: bool = True) -> np.ndarray:
    """The ids (``record_ids`` (N,); None: positions 0..N-1) of the target records called members at a
    false-discovery rate ``q``: Benjamini-Hochberg over :func:`pvalues`.  "These k records are members at
    FDR <= q" holds in expectation while the p-values are valid (the target trained like its references);
    :func:`mia_repro.pool_evaluation.fdr_check` measures the realized FDR on a pool of known membership."""
    from mia_repro.pool_evaluation import PoolInputError, fdr_members

    p = pvalues(view, calibrated)
    ids = np.arange(len(p)) if record_ids is None else np.asarray(record_ids)
    if ids.shape != p.shape:
        raise OwnInputError(f"record_ids: one id per target record ({len(p)}), got shape {ids.shape}")
    try:
        return ids[fdr_members(p, q)]
    except PoolInputError as exc:
        raise OwnInputError(str(exc)) from None
