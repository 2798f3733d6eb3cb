"""Judging attacks: fit on the attacker's view, score the target's records, compare with their membership.

The one place where the target's membership labels meet an attack, after the attack has produced its
scores and decisions from the view alone.  Every stage (Stage II, the comparison, the mitigation sweep,
the SVM sensitivity table) and :func:`run_attacks` (one's own model) evaluate through
:func:`evaluate_attack`, into an :class:`~mia_repro.evaluation.results.AttackResult`.

Imports numpy, pandas, scikit-learn and the attacks only (no Keras).
"""
from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np

from mia_repro.attacks import ATTACKS, AttackerView, MembershipAttack, new_attack, registry
from mia_repro.attacks.view import AttackInputError
from mia_repro.evaluation.metrics import attack_metrics, check_member_score, metrics_by_class, score_ties
from mia_repro.evaluation.results import AttackResult, AttackResults, jsonable, published_threshold
from mia_repro.views.mistakes import OwnInputError, inversion_warning, misalignment_warning

#: resamples behind every TPR@FPR interval of the stages' results
BOOTSTRAP = 200


def evaluate_attack(attack: MembershipAttack, view: AttackerView, member, seed: int = 0,
                    bootstrap: int = BOOTSTRAP, fit: bool = True) -> AttackResult:
    """Fit ``attack`` on ``view`` (unless ``fit`` is False: an attack fitted before), score and decide on the
    target's records, and judge both against ``member`` bool (N,).  ``seed``: the bootstrap's."""
    member = np.asarray(member, dtype=bool)
    t0 = time.perf_counter()
    if fit:
        attack.fit(view)
    score = attack.decision_function(view)
    thresholds = attack.thresholds(view)
    pred = (score >= thresholds).astype(np.int64)  # what attack.predict(view) returns, without scoring twice
    seconds = time.perf_counter() - t0
    threshold = published_threshold(attack)
    return AttackResult(
        name=attack.name or type(attack).__name__, label=attack.label or type(attack).__name__,
        paper=attack.paper, params=jsonable({k: v for k, v in attack.get_params(deep=False).items() if k != "verbose"}),
        threshold=threshold,
        info=jsonable(attack.info_), seconds=seconds,
        scores={"member": member, "true_class": np.asarray(view.true_class, np.int64), "score": score,
                "pred": pred, "threshold": thresholds},
        metrics=attack_metrics(member, score, pred, bootstrap=bootstrap, seed=seed, threshold=threshold),
        ties=score_ties(member, score),
        per_class=metrics_by_class(member, view.true_class, score, pred, view.num_classes))


def _why_not(cls: type, view: AttackerView) -> str | None:
    """Why attack class ``cls`` cannot run on ``view`` (its ``needs_*``), or None."""
    if cls.needs_references and not view.has_references:
        return "needs population= (reference outputs)"
    if cls.needs_augmentations and not view.target_aug_labels.shape[0]:
        return "needs augmented queries"
    if getattr(cls, "needs_in_references", False) and not view.has_in_references:
        return "an online attack: needs references trained with the target's records (a reference pool)"
    if cls.needs_logits and view.output_defense is not None:
        return "needs the target's logits"
    return None


def resolve_attacks(attacks, view: AttackerView, cfg=None, seed: int = 0) -> tuple[dict[str, MembershipAttack], dict]:
    """``({name: unfitted attack}, {name: why skipped})`` from ``attacks``: None (every attack of
    :data:`~mia_repro.attacks.ATTACKS` the view supports; the others skipped), a name, or a sequence of
    names and :class:`~mia_repro.attacks.MembershipAttack` instances (configured, or one's own subclass).
    An attack given explicitly that the view cannot serve is an :class:`AttackInputError`."""
    if attacks is None:
        chosen = {name: new_attack(name, cfg, seed) for name in ATTACKS}
        skipped = {name: why for name, a in chosen.items() if (why := _why_not(type(a), view))}
        return {n: a for n, a in chosen.items() if n not in skipped}, skipped
    items = [attacks] if isinstance(attacks, (str, MembershipAttack)) else list(attacks)
    if not items:
        raise AttackInputError("attacks: an empty list runs nothing; give attack names or instances, or None "
                               "for every attack the view supports")
    out = {}
    for item in items:
        if isinstance(item, str):
            if item not in registry.names():
                raise AttackInputError(f"attacks: unknown {item!r}; choose from {list(registry.names())}, "
                                       f"register your own (mia_repro.attacks.register) or pass attack instances")
            item = new_attack(item, cfg, seed)
        elif not isinstance(item, MembershipAttack):
            raise AttackInputError(f"attacks: names or MembershipAttack instances, got {type(item).__name__}")
        name = item.name or type(item).__name__
        if name in out:
            raise AttackInputError(f"attacks: {name!r} given twice")
        why = _why_not(type(item), view)
        if why:
            raise AttackInputError(f"{name}: {why} -- give it, or leave {name} out of attacks")
        out[name] = item
    return out, {}


def evaluate_view(attacks: dict[str, MembershipAttack], view: AttackerView, member, seed: int = 0,
                  bootstrap: int = BOOTSTRAP, log=print) -> dict[str, AttackResult]:
    """:func:`evaluate_attack` for each of ``attacks`` (``{name: unfitted attack}``), one log line each."""
    results = {}
    for name, attack in attacks.items():
        r = results[name] = evaluate_attack(attack, view, member, seed, bootstrap)
        m = r.metrics
        log(f"    {name:22s} AUC {m.auc:.3f}  TPR@1%FPR {m.tpr(0.01):.4f}  "
            f"TPR@0.1%FPR {m.tpr(0.001):.4f}  ({r.seconds:.1f}s)")
    return results


def run_attacks(view: AttackerView, member, attacks: Sequence | str | MembershipAttack | None = None, cfg=None,
                seed: int = 0, bootstrap: int = BOOTSTRAP) -> AttackResults:
    """Fit each of ``attacks`` on ``view``, score the target's records and evaluate against ``member`` bool (N,).

    ``attacks``: None (every attack of :data:`mia_repro.attacks.ATTACKS` the view supports; a warning names
    those it cannot run), or names and :class:`~mia_repro.attacks.MembershipAttack` instances (a configured
    ``RMIAOffline(a_grid=...)`` or a subclass of one's own).  ``cfg``: the SVMs' settings for attacks given by
    name (grid, subsamples; default :class:`~mia_repro.attacks.config.AttackConfig`); ``seed``: their subsampling
    and CV seed and the bootstrap's.  The attacks never see ``member``.
    """
    if not isinstance(view, AttackerView):
        raise OwnInputError(f"view: expected an AttackerView (view_from_models / view_from_arrays), "
                            f"got {type(view).__name__}")
    try:
        member, _ = check_member_score(member, np.zeros(len(np.asarray(member))), "member")
    except ValueError as exc:
        raise OwnInputError(str(exc)) from None
    if len(member) != len(view):
        raise OwnInputError(f"member: {len(member)} flags for the view's {len(view)} target records")
    if member.all() or not member.any():
        raise OwnInputError("member: the evaluation needs members and non-members among the target's records")
    for what, value in (("seed", seed), ("bootstrap", bootstrap)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise OwnInputError(f"{what}: a non-negative integer, got {value!r}"
                                + (" (0: no bootstrap intervals)" if what == "bootstrap" else ""))
    from mia_repro.attacks.config import AttackConfig

    if cfg is not None and not isinstance(cfg, AttackConfig):
        raise OwnInputError(f"cfg: an AttackConfig (the SVMs' settings), got {type(cfg).__name__}")
    try:
        chosen, skipped = resolve_attacks(attacks, view, cfg, seed)
    except OwnInputError:
        raise
    except AttackInputError as exc:
        raise OwnInputError(str(exc)) from None
    if skipped:
        warnings.warn("run_attacks: not run on this view: " + "; ".join(f"{a} ({why})" for a, why in skipped.items()),
                      UserWarning, stacklevel=2)
    lines = [attack.regime_warning(view) for attack in chosen.values()] + [misalignment_warning(view)]
    try:
        results = evaluate_view(chosen, view, member, seed, bootstrap, log=lambda *_: None)
    except OwnInputError:
        raise
    except AttackInputError as exc:  # what an attack found wrong with the view (e.g. a class no shadow holds)
        raise OwnInputError(str(exc)) from None
    lines.append(inversion_warning({name: r.metrics.auc for name, r in results.items()},
                                   int(member.sum()), int((~member).sum())))
    for line in filter(None, lines):
        warnings.warn(f"run_attacks: {line}", UserWarning, stacklevel=2)
    return AttackResults(results, skipped)


__all__ = ["BOOTSTRAP", "evaluate_attack", "evaluate_view", "resolve_attacks", "run_attacks"]
