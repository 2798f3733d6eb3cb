"""Shokri et al. (IEEE S&P 2017), "Membership Inference Attacks Against Machine Learning Models".

The shadow-model attack of Sec. IV: one attack model per true class, trained
on the shadow models' prediction vectors of their own members (label 1) and
non-members (label 0), then applied to the target's prediction vectors.  Here
each attack model is an RBF SVM whose C and gamma are chosen jointly by k-fold
cross-validation (the paper used neural networks; the reproduction it follows
used SVMs).  Attack *training* data come only from the shadows.

Two variants behind the common interface: :class:`ShokriSVM` (``shokri_svm``,
C and gamma tuned per class, the headline) and :class:`ShokriSVMFixed`
(``shokri_svm_fixed``, no search: every class at ``AttackConfig.fixed_C`` /
``fixed_gamma``, by default scikit-learn's ``SVC`` defaults of 2017, C = 1 and
gamma = 1 / n_features = 0.1 on the 10-class softmax vectors, i.e. what a
reader of the paper would have run without tuning).  Both see the same shadow
records, the same fit subsample and decide the same way.  The decision values
themselves are :meth:`ShokriSVM.decision_function` (Stage II publishes them
and the AUC of their raw pooling beside the calibrated one).

The per-class SVMs themselves (fitting, the CV grid and its edge, Platt's calibration) are in
:mod:`mia_repro.attacks.svms`.
"""
from __future__ import annotations

import numpy as np

from mia_repro.attacks.config import AttackConfig
from mia_repro.attacks.registry import register
from mia_repro.attacks.view import AttackData, AttackerView, AttackInputError
from mia_repro.attacks.base import MembershipAttack
from mia_repro.attacks.params import Number, check_params
from mia_repro.attacks.svms import PerClassSVMs, check_disjoint, fit_per_class_svms


def _config(cfg: AttackConfig | None) -> AttackConfig:
    return AttackConfig() if cfg is None else cfg


#: the SVM attacks' parameters (:mod:`~mia_repro.attacks.params`)
SVM_PARAMETERS = {"cfg": [AttackConfig, None], "seed": [Number(0, None, "left", integer=True)],
                  "beyond_edge": ["boolean"], "verbose": ["boolean"], "C": [Number(0, None, "neither"), None],
                  "gamma": [Number(0, None, "neither"), None]}


@register("shokri_svm",
          label="Shokri SVM (tuned)",
          paper="Shokri et al., S&P 2017 (per-class shadow-model attack, Sec. IV; RBF SVM, C and gamma by 5-fold CV)",
          sets={"compare": None, "pool": 11, "dp": None})
class ShokriSVM(MembershipAttack):
    """Shokri's per-class SVMs, C and gamma tuned per class by CV (``cfg``: :class:`AttackConfig`, None: its
    defaults; ``seed``: the subsamples' and folds'; ``beyond_edge``: measure the CV one grid step past an
    edge optimum, recorded per class; ``verbose``: a progress bar over the classes).

    ``score`` is the Platt-calibrated log-odds of membership (one scale for all classes; the logit of the
    calibrated probability, computed without the sigmoid so that it never rounds to a tie) and
    ``threshold_`` holds one threshold per class: the calibrated log-odds at that class SVM's boundary
    (decision value 0: Platt's intercept, :meth:`PerClassSVMs.boundary_scores`).  Platt's slope is positive,
    so ``score >= threshold_[y]`` is the SVM's own decision (Stage II counts any record where rounding
    makes them differ: ``boundary_disagreements``).  Learned: ``svms_``
    (:class:`PerClassSVMs`), ``threshold_`` float64 (C,), ``info_``.  Stage II's fitted SVMs are reused
    by :meth:`from_fitted`, never by a ``fit`` that skips fitting.
    """

    needs_logits = False  # it reads the exposed prediction vectors
    _parameter_constraints = SVM_PARAMETERS

    def __init__(self, cfg: AttackConfig | None = None, seed: int = 0, beyond_edge: bool = False,
                 verbose: bool = False):
        self.cfg = cfg
        self.seed = seed
        self.beyond_edge = beyond_edge
        self.verbose = verbose

    def _fit_options(self, cfg: AttackConfig) -> dict:
        """``fit_per_class_svms``' ``fixed`` and ``beyond_edge`` for this variant."""
        return {"fixed": None, "beyond_edge": bool(self.beyond_edge)}

    def _info(self, cfg: AttackConfig) -> dict:
        return {}

    def fit(self, view: AttackerView) -> "ShokriSVM":
        cfg, seed = _config(self.cfg), int(self.seed)
        progress = None
        if self.verbose:
            from mia_repro.base.progress import progress as bar

            progress = lambda it: bar(it, desc=f"{self.name} ({view.target_name})", unit="class", leave=False)  # noqa: E731
        svms = fit_per_class_svms(view.shadow_records(), cfg, seed, view.num_classes, progress=progress,
                                  **self._fit_options(cfg))
        self._set_fitted(svms, cfg)
        return self

    def _set_fitted(self, svms: PerClassSVMs, cfg: AttackConfig) -> None:
        self.svms_ = svms
        self.threshold_ = svms.boundary_scores()
        self.info_ = self._info(cfg)
        self.n_classes_ = len(svms.classes)

    @classmethod
    def from_fitted(cls, svms: PerClassSVMs, **params) -> "ShokriSVM":
        """A fitted attack from SVMs fitted before (Stage II's, loaded from its cache), with ``params`` the
        constructor's (those they were fitted with)."""
        if not isinstance(svms, PerClassSVMs):
            raise AttackInputError(f"svms: the per-class SVMs of a fitted ShokriSVM (PerClassSVMs), "
                                   f"got {type(svms).__name__}")
        attack = cls(**params)
        check_params(attack)
        attack._set_fitted(svms, _config(attack.cfg))
        return attack

    def _target(self, view: AttackerView) -> AttackData:
        data = view.target_records()
        check_disjoint(self.svms_, data)
        return data

    def decision_function(self, view: AttackerView) -> np.ndarray:
        return self.svms_.log_odds(self._target(view))

    def svm_decision(self, view: AttackerView) -> np.ndarray:
        """float64 (N,): each target record's class SVM decision value (a per-class scale; > 0: the SVM's
        member side), where :meth:`decision_function` is the calibrated log-odds on one scale."""
        self.check_fitted("svm_decision")
        self.check_view(view)
        self.check_classes(view)
        return self.svms_.decision_function(self._target(view))


@register("shokri_svm_fixed",
          label="Shokri SVM (fixed C, gamma)",
          paper="Shokri et al., S&P 2017 (per-class shadow-model attack, Sec. IV; RBF SVM at fixed C and gamma)",
          sets=("compare",))
class ShokriSVMFixed(ShokriSVM):
    """Shokri's per-class SVMs at one fixed (C, gamma) for every class: no search.  ``C`` / ``gamma``
    (None: ``cfg.fixed_C`` / ``cfg.fixed_gamma``)."""

    def __init__(self, cfg: AttackConfig | None = None, seed: int = 0, C: float | None = None,
                 gamma: float | None = None, verbose: bool = False):
        self.cfg = cfg
        self.seed = seed
        self.C = C
        self.gamma = gamma
        self.verbose = verbose

    def _pair(self, cfg: AttackConfig) -> tuple[float, float]:
        pair = (cfg.fixed_C if self.C is None else self.C, cfg.fixed_gamma if self.gamma is None else self.gamma)
        return float(pair[0]), float(pair[1])

    def _fit_options(self, cfg: AttackConfig) -> dict:
        return {"fixed": self._pair(cfg), "beyond_edge": False}

    def _info(self, cfg: AttackConfig) -> dict:
        C, gamma = self._pair(cfg)
        return {"C": C, "gamma": gamma}  # every class's pair
