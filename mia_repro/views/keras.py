"""The attacker's view from Keras models, queried here (:func:`view_from_models`): the one way to build a view
that imports Keras; the models' outputs then go through :func:`~mia_repro.views.arrays.view_from_arrays`."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mia_repro.attacks.view import AttackerView
from mia_repro.views.arrays import _looks_like_probs, _member, as_logits, view_from_arrays
from mia_repro.views.mistakes import OwnInputError

__all__ = ["view_from_models"]


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
    from mia_repro.base.quiet import keras  # noqa: F401 - the backend's console noise filtered

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
