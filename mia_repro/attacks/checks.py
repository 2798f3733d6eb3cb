"""The attack contract as a check a user runs on their own attack, in the spirit of scikit-learn's
``check_estimator``: :func:`check_attack` fits and scores an instance on the attacker's views it is given and
raises :class:`AttackContractError` naming the first rule it breaks.

The rules (every attack of the package passes them in the test suite):

* parameters only in the constructor (``vars`` is ``get_params``), nothing learned before ``fit``, a short
  repr without arrays; ``clone`` gives an unfitted copy with the same parameters;
* before ``fit``, ``decision_function``, ``predict`` and ``thresholds`` raise ``NotFittedError``;
* ``fit(view)`` returns the attack, leaves its parameters as they were (the same objects) and sets
  ``threshold_`` and ``info_``; everything it learns ends in ``_``;
* ``decision_function(view)`` is float64 (N,), finite, the same on a second call; ``predict`` is
  ``decision_function >= thresholds`` as int64;
* scoring leaves the fitted attack unchanged (its pickled state is the same before and after);
* order invariance: the records permuted, the scores are permuted the same way;
* subset invariance: a record's score does not depend on which other target records are scored with it
  (checked unless the attack says its scores depend on the set: ``records_independent`` False, as LiRA's
  global variance, pooled over the target's records, does);
* a refit on a second view equals a fresh fit on it (nothing of the first fit remains);
* a view of another type is one :class:`~mia_repro.attacks.view.AttackInputError` naming the attack.
"""
from __future__ import annotations

import pickle

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from mia_repro.attacks.view import AttackerView, AttackInputError
from mia_repro.attacks.base import MembershipAttack
from mia_repro.base.errors import MiaReproError


class AttackContractError(MiaReproError, AssertionError):
    """An attack breaks a rule of the contract; the message names the attack and the rule."""


def _learned(attack) -> dict:
    return {k: v for k, v in vars(attack).items() if k.endswith("_") and not k.startswith("_")}


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=rtol))


def check_attack(attack: MembershipAttack, view: AttackerView, other_view: AttackerView | None = None,
                 rtol: float = 1e-9, seed: int = 0) -> list[str]:
    """Check ``attack`` (an unfitted instance) against the contract (module docstring) on ``view`` and, for
    the refit rule, ``other_view`` (another view of as many classes; None: that rule is skipped).  ``rtol``
    is the tolerance of the invariance rules (a permuted sum may round differently); ``seed`` draws the
    permutation and the subset.  Returns the rules checked, in order; raises :class:`AttackContractError`
    at the first one broken.  The attack is left fitted on ``view``."""
    name = getattr(attack, "name", "") or type(attack).__name__
    done: list[str] = []

    def rule(text: str, ok: bool, detail: str = "") -> None:
        if not ok:
            raise AttackContractError(f"{name}: {text}" + (f" ({detail})" if detail else ""))
        if text not in done:
            done.append(text)

    if not isinstance(view, AttackerView) or (other_view is not None and not isinstance(other_view, AttackerView)):
        raise AttackInputError("check_attack: view and other_view are AttackerViews (mia_repro.views.arrays builds them)")
    rule("is a MembershipAttack (a scikit-learn estimator)",
         isinstance(attack, MembershipAttack) and isinstance(attack, BaseEstimator), type(attack).__name__)
    params = attack.get_params(deep=False)
    rule("holds its parameters and nothing else before fit", set(vars(attack)) == set(params),
         f"attributes {sorted(set(vars(attack)) ^ set(params))} are not constructor parameters")
    rule("has a short repr without arrays", "array(" not in repr(attack) and len(repr(attack)) < 600)
    rule("clone gives the same parameters", clone(attack).get_params(deep=False).keys() == params.keys())
    for method in ("decision_function", "predict", "thresholds"):
        try:
            getattr(attack, method)(view)
            raised = False
        except NotFittedError:
            raised = True
        rule(f"{method} before fit raises NotFittedError", raised)

    rule("fit returns the attack", attack.fit(view) is attack)
    after = attack.get_params(deep=False)
    rule("fit leaves the parameters as they were", after.keys() == params.keys()
         and all(after[k] is params[k] for k in params), "a parameter was replaced or changed")
    learned = _learned(attack)
    rule("fit sets threshold_ and info_", "threshold_" in learned and isinstance(learned.get("info_"), dict))
    rule("what fit learns ends in _", all(k.endswith("_") for k in vars(attack) if not k.startswith("_")
                                          and k not in params))

    try:
        state = pickle.dumps(vars(attack))
    except Exception as exc:  # a fitted attack travels to worker processes
        raise AttackContractError(f"{name}: a fitted attack pickles ({type(exc).__name__}: {exc})") from None
    score = attack.decision_function(view)
    rule("decision_function is float64 (N,), finite", score.dtype == np.float64 and score.shape == (len(view),)
         and bool(np.isfinite(score).all()))
    rule("decision_function gives the same scores on a second call",
         np.array_equal(score, attack.decision_function(view)))
    pred = attack.predict(view)
    rule("predict is decision_function >= thresholds, as int64", pred.dtype == np.int64 and np.array_equal(
        pred, (score >= attack.thresholds(view)).astype(np.int64)))
    rule("scoring leaves the fitted attack unchanged", pickle.dumps(vars(attack)) == state)

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(view))
    rule("order invariance: permuted records, permuted scores",
         _close(attack.decision_function(view.take(order)), score[order], rtol))
    if getattr(attack, "records_independent", True):
        part = np.sort(rng.choice(len(view), size=max(1, len(view) // 2), replace=False))
        rule("subset invariance: a record's score does not depend on the other records scored",
             _close(attack.decision_function(view.take(part)), score[part], rtol),
             "or set records_independent = False where the scores depend on the set by design")
    rule("scoring leaves the fitted attack unchanged", pickle.dumps(vars(attack)) == state)

    if other_view is not None:
        fresh = clone(attack)
        rule("clone of a fitted attack is unfitted", not _learned(fresh))
        refit = attack.fit(other_view)
        fresh.fit(other_view)
        rule("a refit equals a fresh fit on the second view", np.array_equal(
            refit.decision_function(other_view), fresh.decision_function(other_view)) and set(_learned(refit))
            == set(_learned(fresh)))
        attack.fit(view)
    try:
        attack.decision_function(np.asarray(view.target_logits))
        refused = False
    except AttackInputError as exc:
        refused = str(exc).startswith(f"{name}:")
    rule("a view of another type is an AttackInputError naming the attack", refused)
    return done
