"""The per-class attack models of Shokri et al. (IEEE S&P 2017, Sec. IV): one RBF SVM per true class, C and
gamma chosen jointly by k-fold cross-validation on the shadows' records, its decision value calibrated by Platt
scaling; :class:`PerClassSVMs` is the fitted set, :class:`~mia_repro.attacks.shokri.ShokriSVM` the attack on it.

Pooling per-class scores: each class model's SVM decision value lives on its
own scale, so a pooled ROC of raw decision values mixes scales.
:meth:`PerClassSVMs.log_odds` maps each class's decision value to the
log-odds of membership of a one-dimensional logistic regression (Platt
scaling) fitted on that class's shadow records -- attacker data only -- and
the attack's score, its pooled ROC/AUC, is that calibrated log-odds.  It is
computed without the sigmoid: on 100-epoch targets Platt's slopes reach
thousands and the calibrated *probability* rounds to exactly 0 or 1 for
thousands of records (ties that mixed members and non-members, and that put
the SVM's boundary itself at probability 0).  The decision stays each SVM's
own boundary: the class's threshold is the calibrated log-odds at decision
value 0 (Platt's intercept), so ``score >= threshold_[y]`` reproduces it from
the published score and threshold.

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

from mia_repro.attacks.config import AttackConfig
from mia_repro.attacks.view import AttackData, AttackInputError


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


#: the log-odds given to every record of a class whose shadow records held one label only (no model fit)
CONSTANT_LOG_ODDS = 1e6


@dataclass
class RBFModel:
    """A fitted binary RBF SVM as plain arrays: ``decision(x) = dual_coef · exp(-gamma |x - sv|^2) +
    intercept`` (scikit-learn's ``SVC.decision_function``, to about 1e-15; :meth:`from_svc`).  Kept in a
    cache as numbers, so loading a fitted attack runs no code (no pickle)."""

    support_vectors: np.ndarray  # float64 (S, F)
    dual_coef: np.ndarray  # float64 (S,)
    intercept: float
    gamma: float

    @classmethod
    def from_svc(cls, svc: SVC) -> "RBFModel":
        return cls(np.asarray(svc.support_vectors_, np.float64), np.asarray(svc.dual_coef_[0], np.float64),
                   float(svc.intercept_[0]), float(svc._gamma))

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, np.float64)
        out = np.empty(len(x))
        sv, sv_sq = self.support_vectors, (self.support_vectors ** 2).sum(1)
        for i in range(0, len(x), 2048):  # (chunk, S) kernel blocks bound the memory
            xb = x[i:i + 2048]
            sq = np.maximum((xb ** 2).sum(1)[:, None] + sv_sq[None, :] - 2.0 * xb @ sv.T, 0.0)
            out[i:i + 2048] = np.exp(-self.gamma * sq) @ self.dual_coef + self.intercept
        return out


@dataclass
class Platt:
    """Platt scaling as two numbers: log-odds ``a * decision + b`` (a 1-D logistic regression's coefficient
    and intercept)."""

    a: float
    b: float

    def log_odds(self, decision: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(decision, np.float64) + self.b


@dataclass
class ClassAttack:
    """One class's fitted SVM and how its hyper-parameters were chosen."""

    model: RBFModel | None
    C: float
    gamma: float
    cv_accuracy: float
    edge_hit: bool
    constant: int | None = None  # set when the training records held one label only
    calibrator: Platt | None = None
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
            lr = LogisticRegression(C=1e6).fit(d, y)
            self.calibrator = Platt(float(lr.coef_[0, 0]), float(lr.intercept_[0]))

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """float64 (N,) the Platt-calibrated log-odds of membership, ``A * decision + B``: the logit of
        :meth:`probability`, computed without the sigmoid, so it never saturates (on 100-epoch targets the
        slopes reach thousands and the probability rounds to exactly 0 or 1 for many records).  Where no model
        was fit it is +-:data:`CONSTANT_LOG_ODDS` (the label); an uncalibrated model's is 0."""
        if self.calibrator is None:
            if self.model is None and self.constant is not None:
                return np.full(len(features), CONSTANT_LOG_ODDS if self.constant else -CONSTANT_LOG_ODDS)
            return np.zeros(len(features))
        return self.calibrator.log_odds(self.decision_function(features))

    def boundary_score(self) -> float:
        """The calibrated log-odds at the SVM's boundary (decision value 0), Platt's intercept: the class's
        threshold on :meth:`log_odds` (0 where no model was fit, or none was calibrated)."""
        if self.calibrator is None:
            return 0.0
        return float(self.calibrator.b)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """float64 (N,) calibrated probability of membership (the constant label where no model was fit)."""
        if self.calibrator is None:
            return np.full(len(features), float(self.constant) if self.constant is not None else 0.5)
        z = self.calibrator.log_odds(self.decision_function(features))
        return np.exp(-np.logaddexp(0.0, -z))  # the sigmoid, without overflow


def fit_class_attack(features: np.ndarray, member: np.ndarray, cfg: AttackConfig, seed: int,
                     fixed: tuple[float, float] | None = None, beyond_edge: bool = False) -> ClassAttack:
    """Fit one per-class RBF SVM; C and gamma chosen *jointly* by k-fold CV, or ``fixed`` ``(C, gamma)``.

    ``features`` float32 (N, C); ``member`` bool (N,).  The grid search sees a
    stratified subsample of ``cfg.cv_samples`` records, the final fit one of
    ``cfg.fit_samples`` (both seeded; the fit subsample is the same with and
    without ``fixed``).  The search's folds: ``StratifiedKFold`` shuffled with
    ``seed``, of ``cfg.cv_folds`` folds but no more than the smaller class has
    records, and never fewer than 2.  ``edge_hit`` is True when the best (C, gamma) pair
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
    return ClassAttack(RBFModel.from_svc(model), best_C, best_gamma, cv_acc, edge, beyond=beyond)


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
class PerClassSVMs:
    """What :class:`ShokriSVM` learns: one :class:`ClassAttack` per true class, and the names of the
    models whose records it was fit on (``trained_on``, checked against the attacked model's)."""

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

    def decision_function(self, data: AttackData) -> np.ndarray:
        """float64 (N,) each class SVM's decision value (> 0: its side of members); one scale per class."""
        return self._per_class(data, "decision_function")

    def probability(self, data: AttackData) -> np.ndarray:
        """float64 (N,) Platt-calibrated probability of membership, comparable across classes."""
        return self._per_class(data, "probability")

    def log_odds(self, data: AttackData) -> np.ndarray:
        """float64 (N,) Platt-calibrated log-odds of membership (:meth:`ClassAttack.log_odds`), comparable
        across classes and never saturated: the attack's score."""
        return self._per_class(data, "log_odds")

    def boundary_scores(self) -> np.ndarray:
        """float64 (C,): per class, the calibrated log-odds at the SVM's boundary (decision value 0)."""
        return np.array([c.boundary_score() for c in self.classes], dtype=np.float64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything fitted as arrays (an ``.npz`` cache, loaded without running code): per class ``c<k>_sv``
        and ``c<k>_dual``, and ``meta`` (JSON: per class C, gamma, CV accuracy, edge flag, constant label,
        the SVM's intercept and RBF gamma, Platt's a and b, the beyond-edge record; ``trained_on``)."""
        import json

        arrays, meta = {}, []
        for k, c in enumerate(self.classes):
            m = c.model
            if m is not None:
                arrays[f"c{k}_sv"], arrays[f"c{k}_dual"] = m.support_vectors, m.dual_coef
            meta.append({"C": c.C, "gamma": c.gamma, "cv_accuracy": c.cv_accuracy, "edge_hit": c.edge_hit,
                         "constant": c.constant, "beyond": c.beyond,
                         "svm": None if m is None else {"intercept": m.intercept, "gamma": m.gamma},
                         "platt": None if c.calibrator is None else [c.calibrator.a, c.calibrator.b]})
        arrays["meta"] = np.array(json.dumps({"classes": meta, "trained_on": sorted(self.trained_on)}))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict) -> "PerClassSVMs":
        """The inverse of :meth:`to_arrays`; ValueError / KeyError on arrays that are not its output."""
        import json

        meta = json.loads(str(arrays["meta"]))
        classes = []
        for k, m in enumerate(meta["classes"]):
            model = None
            if m["svm"] is not None:
                sv, dual = np.asarray(arrays[f"c{k}_sv"], np.float64), np.asarray(arrays[f"c{k}_dual"], np.float64)
                if sv.ndim != 2 or dual.shape != (len(sv),) or not (np.isfinite(sv).all() and np.isfinite(dual).all()):
                    raise ValueError(f"class {k}: support vectors and coefficients of inconsistent shapes or not finite")
                model = RBFModel(sv, dual, float(m["svm"]["intercept"]), float(m["svm"]["gamma"]))
            platt = None if m["platt"] is None else Platt(float(m["platt"][0]), float(m["platt"][1]))
            classes.append(ClassAttack(model, float(m["C"]), float(m["gamma"]), float(m["cv_accuracy"]),
                                       bool(m["edge_hit"]), m["constant"], platt, m["beyond"]))
        return cls(classes, frozenset(meta["trained_on"]))


def fit_per_class_svms(train: AttackData, cfg: AttackConfig, seed: int, num_classes: int = 10, progress=None,
                       fixed: tuple[float, float] | None = None, beyond_edge: bool = False) -> PerClassSVMs:
    """Fit one SVM per class on shadow records ``train`` (:func:`fit_class_attack`'s ``fixed`` / ``beyond_edge``),
    each Platt-calibrated on its class's records.  ``progress``: optional callable taking an iterable
    (e.g. ``tqdm``).  A class with no shadow record is an :class:`AttackInputError` (its SVM has nothing to
    learn from); one whose shadow records are all members (or all non-members) gets a constant decision."""
    missing = sorted(set(range(num_classes)) - set(np.unique(train.true_class).tolist()))
    if missing:
        raise AttackInputError(f"shokri_svm: the shadows hold no record of class(es) {missing} of 0..{num_classes - 1}"
                               f" (one SVM per class learns from them); give shadow records of every class, or "
                               f"leave the SVM attacks out")
    classes = range(num_classes)
    if progress is not None:
        classes = progress(classes)
    fitted = []
    for c in classes:
        d = train.of_class(c)
        attack = fit_class_attack(d.features, d.member, cfg, seed + 1000 * c, fixed=fixed, beyond_edge=beyond_edge)
        attack.calibrate(d.features, d.member)
        fitted.append(attack)
    return PerClassSVMs(fitted, frozenset(np.unique(train.source).tolist()))


def check_disjoint(svms: PerClassSVMs, test: AttackData) -> None:
    """Raise if any model whose records are attacked also fed attack training."""
    overlap = svms.trained_on & set(np.unique(test.source).tolist())
    if overlap:
        raise AttackInputError(f"attack models were trained on records of the attacked model(s) {sorted(overlap)}")


__all__ = ["CONSTANT_LOG_ODDS", "ClassAttack", "PerClassSVMs", "Platt", "RBFModel", "check_disjoint", "cv_beyond_edge", "fit_class_attack", "fit_per_class_svms", "stratified_subsample"]
