"""What every attack shares: the interface (:class:`MembershipAttack`), its fit and score checks and the error
of a call before ``fit``.

An attack is fit on what the attacker has (an :class:`~mia_repro.attacks.view.AttackerView`: the target's
outputs on its records *without* their membership, the shadows' own records *with* theirs, the shadows'
reference outputs on the target's records, and everyone's outputs on the population sample), then returns
for every target record a score (:meth:`MembershipAttack.decision_function`, float64, larger = more likely a
member) and a 0/1 decision ``score >= threshold``, where the threshold was chosen on the attacker's data
(:mod:`~mia_repro.attacks.thresholds`).  The target's membership labels are not in the view; evaluation
receives them separately.  The view lives in :mod:`~mia_repro.attacks.view`, the signals in
:mod:`~mia_repro.attacks.signals`.
"""
from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from mia_repro.attacks import registry
from mia_repro.attacks.params import check_params
from mia_repro.attacks.registry import Registered
from mia_repro.attacks.view import AttackerView, AttackInputError
from mia_repro.base.errors import MiaReproError
from mia_repro.base.moved import names_moved

#: the names that moved to the view, signal and threshold modules: still found here, with a warning
_MOVED = {**dict.fromkeys(("AttackData", "AttackInputError", "AttackerView", "PopulationSimulation", "attack_dataset",
                           "_need_array", "_rows_are_probabilities"), "mia_repro.attacks.view"),
          **dict.fromkeys(("cross_entropy", "log_softmax", "logit_confidence"), "mia_repro.attacks.signals"),
          **dict.fromkeys(("balanced_threshold", "fpr_threshold"), "mia_repro.attacks.thresholds")}


__getattr__ = names_moved(__name__, _MOVED)


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
            raise AttackInputError(f"{self._who()}: expected an AttackerView (mia_repro.views.arrays.view_from_arrays / "
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
        cannot mistake it for an accuracy; use :func:`mia_repro.evaluation.metrics.attack_metrics` for numbers."""
        if y is not None:
            raise TypeError(f"{self._who()}.score(view) is the per-record scores "
                            f"(decision_function), not scikit-learn's score(X, y); for an AUC or a TPR at low FPR "
                            f"use mia_repro.evaluation.metrics.attack_metrics(member, attack.decision_function(view), "
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

registry.ATTACK_BASE = MembershipAttack  # what register accepts (the registry cannot import this module)
