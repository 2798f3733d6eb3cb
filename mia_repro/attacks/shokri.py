"""Shokri et al. (IEEE S&P 2017), "Membership Inference Attacks Against Machine Learning Models".

The shadow-model attack of Sec. IV: one attack model per true class, trained
on the shadow models' prediction vectors of their own members (label 1) and
non-members (label 0), then applied to the target's prediction vectors.  Here
each attack model is an RBF SVM whose C and gamma are chosen jointly by k-fold
cross-validation (the paper used neural networks; the reproduction it follows
used SVMs).  Attack *training* data come only from the shadows.

Pooling per-class scores: each class model's SVM decision value lives on its
own scale, so a pooled ROC of raw decision values mixes scales.
:meth:`PerClassAttack.calibrated_score` maps each class's decision value to a
probability of membership with a one-dimensional logistic regression (Platt
scaling) fitted on that class's shadow records -- attacker data only -- and
the pooled ROC/AUC uses it.

Two variants behind the common interface: :class:`ShokriSVM` (``shokri_svm``,
C and gamma tuned per class, the headline) and :class:`ShokriSVMFixed`
(``shokri_svm_fixed``, no search: every class at ``AttackConfig.fixed_C`` /
``fixed_gamma``, by default scikit-learn's ``SVC`` defaults of 2017, C = 1 and
gamma = 1 / n_features = 0.1 on the 10-class softmax vectors, i.e. what a
reader of the paper would have run without tuning).  Both see the same shadow
records, the same fit subsample and decide the same way.

**The grid's edge.**  On 100-epoch targets the softmax vectors sit within about
1e-4 of one-hot and the tuned optimum lies on the grid's upper edge for most
classes.  :func:`fit_class_attack` with ``beyond_edge=True`` measures, on the
same CV subsample and folds, the CV accuracy one grid step beyond every edge
the optimum touches (``ClassAttack.beyond``), and calls the search plateaued
when the best point beyond gains less than one standard error of the CV
accuracy, ``sqrt(acc (1 - acc) / n_cv)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.svm import SVC

from ..config import AttackConfig
from .base import AttackData, AttackerView, MembershipAttack, attack_dataset


def stratified_subsample(y: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_n`` records, label proportions of ``y`` kept (all if fewer)."""
    y = np.asarray(y)
    if max_n is None or len(y) <= max_n:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    labels, counts = np.unique(y, return_counts=True)
    quota = counts * max_n / len(y)
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take))[: max_n - take.sum()]:
        take[i] += 1
    picks = [rng.choice(np.flatnonzero(y == lab), size=k, replace=False) for lab, k in zip(labels, take)]
    return np.sort(np.concatenate(picks))


@dataclass
class ClassAttack:
    """One class's fitted SVM and how its hyper-parameters were chosen."""

    model: SVC | None
    C: float
    gamma: float
    cv_accuracy: float
    edge_hit: bool
    constant: int | None = None  # set when the training records held one label only
    calibrator: LogisticRegression | None = None
    beyond: dict | None = None  # the CV one grid step beyond the edge (see the module docstring); None if not measured

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(len(features), 1.0 if self.constant else -1.0)
        return self.model.decision_function(features)

    def calibrate(self, features: np.ndarray, member: np.ndarray) -> None:
        """Fit Platt scaling (1-D logistic regression of member on the decision value) on shadow records."""
        y = np.asarray(member, dtype=int)
        if self.model is not None and y.min() != y.max():
            d = self.decision_function(features).reshape(-1, 1)
            self.calibrator = LogisticRegression(C=1e6).fit(d, y)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """float64 (N,) calibrated probability of membership (the constant label where no model was fit)."""
        if self.calibrator is None:
            return np.full(len(features), float(self.constant) if self.constant is not None else 0.5)
        return self.calibrator.predict_proba(self.decision_function(features).reshape(-1, 1))[:, 1]


def fit_class_attack(features: np.ndarray, member: np.ndarray, cfg: AttackConfig, seed: int,
                     fixed: tuple[float, float] | None = None, beyond_edge: bool = False) -> ClassAttack:
    """Fit one per-class RBF SVM; C and gamma chosen *jointly* by k-fold CV, or ``fixed`` ``(C, gamma)``.

    ``features`` float32 (N, C); ``member`` bool (N,).  The grid search sees a
    stratified subsample of ``cfg.cv_samples`` records, the final fit one of
    ``cfg.fit_samples`` (both seeded; the fit subsample is the same with and
    without ``fixed``).  ``edge_hit`` is True when the best (C, gamma) pair
    lies on the border of the grid; with ``beyond_edge`` the CV accuracy one
    step beyond it is measured (:func:`cv_beyond_edge`).  With ``fixed`` no
    search runs (``cv_accuracy`` NaN).
    """
    y = np.asarray(member, dtype=int)
    if y.min() == y.max():
        return ClassAttack(None, float("nan"), float("nan"), float("nan"), False, constant=int(y[0]))
    beyond = None
    if fixed is not None:
        best_C, best_gamma = float(fixed[0]), float(fixed[1])
        cv_acc, edge = float("nan"), False
    else:
        cv_idx = stratified_subsample(y, cfg.cv_samples, seed)
        cv = _folds(y[cv_idx], cfg, seed)
        search = GridSearchCV(SVC(kernel="rbf"), {"C": list(cfg.C_grid), "gamma": list(cfg.gamma_grid)}, cv=cv,
                              scoring="accuracy", n_jobs=cfg.n_jobs)
        search.fit(features[cv_idx], y[cv_idx])
        best_C, best_gamma = float(search.best_params_["C"]), float(search.best_params_["gamma"])
        cv_acc = float(search.best_score_)
        edge = _on_edge(best_C, cfg.C_grid) or _on_edge(best_gamma, cfg.gamma_grid)
        if edge and beyond_edge:
            beyond = cv_beyond_edge(features[cv_idx], y[cv_idx], cv, cfg, best_C, best_gamma, cv_acc)
    fit_idx = stratified_subsample(y, cfg.fit_samples, seed + 1)
    model = SVC(kernel="rbf", C=best_C, gamma=best_gamma).fit(features[fit_idx], y[fit_idx])
    return ClassAttack(model, best_C, best_gamma, cv_acc, edge, beyond=beyond)


def _folds(y: np.ndarray, cfg: AttackConfig, seed: int) -> StratifiedKFold:
    return StratifiedKFold(max(min(cfg.cv_folds, int(np.bincount(y).min())), 2), shuffle=True, random_state=seed)


def _steps_beyond(value: float, grid: Sequence[float]) -> list[float]:
    """The value one grid step (the ratio of the two outermost values) past ``value`` if it is on the edge."""
    g = sorted(grid)
    if len(g) < 2:
        return []
    if value == g[-1]:
        return [value * g[-1] / g[-2]]
    if value == g[0]:
        return [value * g[0] / g[1]]
    return []


def cv_beyond_edge(x: np.ndarray, y: np.ndarray, cv: StratifiedKFold, cfg: AttackConfig, C: float, gamma: float,
                   cv_accuracy: float) -> dict:
    """The CV accuracy one grid step beyond an edge optimum ``(C, gamma)``, on the search's own records
    ``x`` (N, F), ``y`` int (N,) and folds ``cv``.

    Every point that steps past each edge the optimum touches (C, gamma, or both together) is evaluated;
    returns ``{"points": [{"C", "gamma", "cv_accuracy"}], "best_cv_accuracy", "gain" (best - cv_accuracy),
    "standard_error" (sqrt(acc (1 - acc) / N)), "plateaued" (gain < standard_error)}``.
    """
    Cs, gammas = [C] + _steps_beyond(C, cfg.C_grid), [gamma] + _steps_beyond(gamma, cfg.gamma_grid)
    points = []
    for c in Cs:
        for g in gammas:
            if (c, g) != (C, gamma):
                acc = cross_val_score(SVC(kernel="rbf", C=c, gamma=g), x, y, cv=cv, scoring="accuracy",
                                      n_jobs=cfg.n_jobs).mean()
                points.append({"C": float(c), "gamma": float(g), "cv_accuracy": float(acc)})
    best = max(p["cv_accuracy"] for p in points)
    se = float(np.sqrt(cv_accuracy * (1 - cv_accuracy) / len(y)))
    return {"points": points, "best_cv_accuracy": best, "gain": best - cv_accuracy, "standard_error": se,
            "plateaued": bool(best - cv_accuracy < se)}


def _on_edge(value: float, grid: Sequence[float]) -> bool:
    return len(grid) > 1 and value in (min(grid), max(grid))


@dataclass
class PerClassAttack:
    """Shokri's attack: one :class:`ClassAttack` per true class.

    ``score`` is the class model's decision function (> 0 means member);
    scores of different classes are on different scales, which
    ``calibrated_score`` puts on one (probability of membership).
    """

    classes: list[ClassAttack]
    trained_on: frozenset = field(default_factory=frozenset)

    def _per_class(self, data: AttackData, method: str) -> np.ndarray:
        """float64 (N,): each record scored by its true class's ``ClassAttack.<method>``."""
        out = np.zeros(len(data), dtype=np.float64)
        for c, attack in enumerate(self.classes):
            sel = data.true_class == c
            if sel.any():
                out[sel] = getattr(attack, method)(data.features[sel])
        return out

    def score(self, data: AttackData) -> np.ndarray:
        """float64 (N,) decision values, member if > 0."""
        return self._per_class(data, "decision_function")

    def predict(self, data: AttackData) -> np.ndarray:
        """int (N,) 1 = member."""
        return (self.score(data) > 0).astype(int)

    def calibrated_score(self, data: AttackData) -> np.ndarray:
        """float64 (N,) Platt-calibrated probability of membership, comparable across classes."""
        return self._per_class(data, "probability")


def fit_attack(train: AttackData, cfg: AttackConfig, seed: int, num_classes: int = 10, progress=None,
               fixed: tuple[float, float] | None = None, beyond_edge: bool = False) -> PerClassAttack:
    """Fit one SVM per class on shadow records ``train`` (:func:`fit_class_attack`'s ``fixed`` / ``beyond_edge``).

    ``progress``: optional callable taking an iterable (e.g. ``tqdm``).
    """
    classes = range(num_classes)
    if progress is not None:
        classes = progress(classes)
    fitted = []
    for c in classes:
        d = train.of_class(c)
        attack = fit_class_attack(d.features, d.member, cfg, seed + 1000 * c, fixed=fixed, beyond_edge=beyond_edge)
        attack.calibrate(d.features, d.member)
        fitted.append(attack)
    return PerClassAttack(fitted, frozenset(np.unique(train.source).tolist()))


def check_disjoint(attack: PerClassAttack, test: AttackData) -> None:
    """Raise if any model whose records are attacked also fed attack training."""
    overlap = attack.trained_on & set(np.unique(test.source).tolist())
    if overlap:
        raise ValueError(f"attack models were trained on records of the attacked model(s) {sorted(overlap)}")


@dataclass
class ShokriSVM(MembershipAttack):
    """The per-class SVM attack behind the common interface.

    ``score`` is the calibrated probability of membership (one scale for all
    classes); the decision is the SVM's own (decision value > 0), i.e. the
    class model's boundary, as in Stage II.  ``svm`` may be given already fit
    (Stage II's), else :meth:`fit` fits it with ``cfg``.
    """

    name: str = "shokri_svm"
    label: str = "Shokri SVM (tuned)"
    paper: str = "Shokri et al., S&P 2017 (per-class shadow-model attack, Sec. IV; RBF SVM, C and gamma by 5-fold CV)"
    cfg: AttackConfig | None = None
    seed: int = 0
    svm: PerClassAttack | None = None

    def fit(self, view: AttackerView) -> "ShokriSVM":
        if self.svm is None:
            self.svm = fit_attack(attack_dataset(view.shadows), self.cfg or AttackConfig(), self.seed,
                                  view.target_probs.shape[1])
        self.threshold = 0.0
        return self

    def score(self, view: AttackerView) -> np.ndarray:
        data = view.target_records()
        check_disjoint(self.svm, data)
        return self.svm.calibrated_score(data)

    def predict(self, view: AttackerView) -> np.ndarray:
        return self.svm.predict(view.target_records())


@dataclass
class ShokriSVMFixed(ShokriSVM):
    """Shokri's per-class SVMs with fixed ``cfg.fixed_C`` / ``cfg.fixed_gamma`` for every class: no search."""

    name: str = "shokri_svm_fixed"
    label: str = "Shokri SVM (fixed C, gamma)"
    paper: str = "Shokri et al., S&P 2017 (per-class shadow-model attack, Sec. IV; RBF SVM at fixed C and gamma)"

    def fit(self, view: AttackerView) -> "ShokriSVMFixed":
        cfg = self.cfg or AttackConfig()
        if self.svm is None:
            self.svm = fit_attack(attack_dataset(view.shadows), cfg, self.seed, view.target_probs.shape[1],
                                  fixed=(cfg.fixed_C, cfg.fixed_gamma))
        self.threshold = 0.0
        self.info = {**self.info, "C": float(cfg.fixed_C), "gamma": float(cfg.fixed_gamma)}  # every class's pair
        return self
