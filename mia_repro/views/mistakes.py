"""Checks for the silent mistakes of attacking one's own model: each fires on the mistake and stays quiet on
correct input.

* :func:`check_not_copies` -- the target's outputs given again as a shadow's or a reference's (the same model
  twice): identical output rows, which two trained models do not produce; refused (:class:`OwnInputError`).
* :func:`misalignment_warning` -- target labels out of order with its outputs: the target's accuracy on its
  own labels far below the shadows' on theirs.
* :func:`inversion_warning` -- members and non-members swapped: an AUC far below 0.5, beyond what chance
  gives at these counts.

The warnings are sentences (or None) that :func:`~mia_repro.evaluation.evaluate.run_attacks` emits as ``UserWarning``.
"""
from __future__ import annotations

import numpy as np

from mia_repro.attacks.view import AttackInputError

#: at least this many (and this share of) the target's output rows found again in one shadow or reference
COPY_ROWS, COPY_SHARE = 5, 0.01
#: the target's accuracy on its own labels below this share of the shadows' (mean over their records)
MISALIGNED_SHARE = 0.5
#: an AUC this many null standard errors below 0.5
INVERTED_Z = 4.0


class OwnInputError(AttackInputError):
    """An array given for one's own model is not what the attacks need; the message names the argument."""


def shared_rows(a: np.ndarray, b: np.ndarray) -> int:
    """How many rows of ``a`` (N, C) occur, bit for bit, among the rows of ``b`` (M, C) (both float64)."""
    a, b = np.ascontiguousarray(a, np.float64), np.ascontiguousarray(b, np.float64)
    if not len(a) or not len(b) or a.shape[1] != b.shape[1]:
        return 0
    rows = np.dtype((np.void, a.dtype.itemsize * a.shape[1]))
    return int(np.isin(a.view(rows).ravel(), b.view(rows).ravel()).sum())


def check_not_copies(target_logits: np.ndarray, others: dict[str, np.ndarray]) -> None:
    """Refuse when one of ``others`` (name -> float64 (M, C) outputs of a shadow or reference model) repeats
    at least :data:`COPY_ROWS` and :data:`COPY_SHARE` of the target's output rows ``target_logits`` (N, C)
    exactly: that model is the target itself (or was given the target's outputs), and every attack
    comparing the two sits at AUC 0.5."""
    n = len(target_logits)
    for name, out in others.items():
        k = shared_rows(target_logits, out)
        if k >= max(COPY_ROWS, COPY_SHARE * n):
            raise OwnInputError(f"{name}: {k} of its output rows are identical to the target's ({n} rows): it is "
                                f"the target model (or its outputs) given again; shadows and references must be "
                                f"other models")


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((np.argmax(logits, axis=1) == labels).mean()) if len(labels) else float("nan")


def misalignment_warning(view) -> str | None:
    """A sentence when the target's accuracy on its own labels (``view.target_logits`` vs ``view.true_class``)
    is below :data:`MISALIGNED_SHARE` of the shadows' mean accuracy on their records and the shadows do
    better than chance (1.5 / C) -- the labels are then likely out of order with the outputs; else None."""
    target = _accuracy(view.target_logits, view.true_class)
    shadows = float(np.mean([_accuracy(s.logits, s.true_class) for s in view.shadows]))
    if shadows > 1.5 / view.num_classes and target < MISALIGNED_SHARE * shadows:
        return (f"target accuracy on its own labels {target:.3f} against the shadows' {shadows:.3f}: the target's "
                f"labels look misaligned with its outputs (same record order for target_labels and its logits?)")
    return None


def inversion_warning(aucs: dict[str, float], n_members: int, n_nonmembers: int) -> str | None:
    """A sentence naming the attacks of ``aucs`` (name -> AUC on ``n_members`` + ``n_nonmembers`` records)
    whose AUC lies more than :data:`INVERTED_Z` null standard errors below 0.5 (the Mann-Whitney standard
    error sqrt((n1 + n0 + 1) / (12 n1 n0))) -- membership looks inverted; None when there is none."""
    if not (n_members and n_nonmembers):
        return None
    se = np.sqrt((n_members + n_nonmembers + 1) / (12.0 * n_members * n_nonmembers))
    low = {name: auc for name, auc in aucs.items() if np.isfinite(auc) and auc < 0.5 - INVERTED_Z * se}
    if not low:
        return None
    listed = ", ".join(f"{name} {auc:.3f}" for name, auc in low.items())
    return (f"AUC far below chance ({listed}; more than {INVERTED_Z:g} standard errors of {se:.3f} under 0.5): "
            f"membership looks inverted (member=True must mark the records the target trained on)")


__all__ = ["OwnInputError", "check_not_copies", "inversion_warning", "misalignment_warning", "shared_rows"]
