"""Stage II attack models: Shokri's per-class RBF SVMs and a confidence-threshold baseline.

Attack *training* data come only from the shadow models (member = 1,
non-member = 0); attack *test* data only from the target.  The feature of a
record is the model's softmax vector; the attacker also knows its true class,
which selects the per-class attack model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.metrics import roc_curve
from sklearn.svm import SVC

from .config import AttackConfig


@dataclass
class AttackData:
    """Records seen by an attack model.

    ``features`` float32 (N, C) prediction vectors; ``true_class`` int64 (N,);
    ``member`` bool (N,) (positive class = member); ``source`` (N,) str name of
    the model that produced each record (to assert target/shadow separation).
    """

    features: np.ndarray
    true_class: np.ndarray
    member: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.member)

    def of_class(self, c: int) -> "AttackData":
        sel = self.true_class == c
        return AttackData(self.features[sel], self.true_class[sel], self.member[sel], self.source[sel])


def attack_dataset(outputs: Sequence, transform=None) -> AttackData:
    """Stack the records of several models' :class:`~mia_repro.stage1.ModelOutputs`.

    ``transform`` (optional) maps prediction vectors (N, C) -> (N, C), e.g. an
    output-side defense applied to what the models expose.
    """
    feats, classes, members, sources = [], [], [], []
    for o in outputs:
        p = o.probs if transform is None else transform(o.probs)
        feats.append(np.asarray(p, dtype=np.float32))
        classes.append(o.true_class)
        members.append(o.member)
        sources.append(np.full(len(o.member), o.name))
    return AttackData(np.concatenate(feats), np.concatenate(classes), np.concatenate(members), np.concatenate(sources))


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

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(len(features), 1.0 if self.constant else -1.0)
        return self.model.decision_function(features)


def fit_class_attack(features: np.ndarray, member: np.ndarray, cfg: AttackConfig, seed: int) -> ClassAttack:
    """Fit one per-class RBF SVM; C and gamma chosen *jointly* by k-fold CV.

    ``features`` float32 (N, C); ``member`` bool (N,).  The grid search sees a
    stratified subsample of ``cfg.cv_samples`` records, the final fit one of
    ``cfg.fit_samples`` (both seeded).  ``edge_hit`` is True when the best
    (C, gamma) pair lies on the border of the grid (the grid may be too small).
    """
    y = np.asarray(member, dtype=int)
    if y.min() == y.max():
        return ClassAttack(None, float("nan"), float("nan"), float("nan"), False, constant=int(y[0]))
    cv_idx = stratified_subsample(y, cfg.cv_samples, seed)
    folds = min(cfg.cv_folds, int(np.bincount(y[cv_idx]).min()))
    search = GridSearchCV(
        SVC(kernel="rbf"),
        {"C": list(cfg.C_grid), "gamma": list(cfg.gamma_grid)},
        cv=StratifiedKFold(max(folds, 2), shuffle=True, random_state=seed),
        scoring="accuracy",
        n_jobs=cfg.n_jobs,
    )
    search.fit(features[cv_idx], y[cv_idx])
    best_C, best_gamma = float(search.best_params_["C"]), float(search.best_params_["gamma"])
    edge = _on_edge(best_C, cfg.C_grid) or _on_edge(best_gamma, cfg.gamma_grid)
    fit_idx = stratified_subsample(y, cfg.fit_samples, seed + 1)
    model = SVC(kernel="rbf", C=best_C, gamma=best_gamma).fit(features[fit_idx], y[fit_idx])
    return ClassAttack(model, best_C, best_gamma, float(search.best_score_), edge)


def _on_edge(value: float, grid: Sequence[float]) -> bool:
    return len(grid) > 1 and value in (min(grid), max(grid))


@dataclass
class PerClassAttack:
    """Shokri's attack: one :class:`ClassAttack` per true class.

    ``score`` is the class model's decision function (> 0 means member);
    scores of different classes are on different scales.
    """

    classes: list[ClassAttack]
    trained_on: frozenset = field(default_factory=frozenset)

    def score(self, data: AttackData) -> np.ndarray:
        """float64 (N,) decision values, member if > 0."""
        out = np.zeros(len(data), dtype=np.float64)
        for c, attack in enumerate(self.classes):
            sel = data.true_class == c
            if sel.any():
                out[sel] = attack.decision_function(data.features[sel])
        return out

    def predict(self, data: AttackData) -> np.ndarray:
        """int (N,) 1 = member."""
        return (self.score(data) > 0).astype(int)


def fit_attack(train: AttackData, cfg: AttackConfig, seed: int, num_classes: int = 10, progress=None) -> PerClassAttack:
    """Fit one SVM per class on shadow records ``train``.

    ``progress``: optional callable taking an iterable (e.g. ``tqdm``).
    """
    classes = range(num_classes)
    if progress is not None:
        classes = progress(classes)
    fitted = []
    for c in classes:
        d = train.of_class(c)
        fitted.append(fit_class_attack(d.features, d.member, cfg, seed + 1000 * c))
    return PerClassAttack(fitted, frozenset(np.unique(train.source).tolist()))


def check_disjoint(attack: PerClassAttack, test: AttackData) -> None:
    """Raise if any model whose records are attacked also fed attack training."""
    overlap = attack.trained_on & set(np.unique(test.source).tolist())
    if overlap:
        raise ValueError(f"attack models were trained on records of the attacked model(s) {sorted(overlap)}")


def true_class_confidence(data: AttackData) -> np.ndarray:
    """float64 (N,): the probability each record's model gives its true class."""
    return data.features[np.arange(len(data)), data.true_class].astype(np.float64)


@dataclass
class ThresholdAttack:
    """Baseline: member iff the true-class confidence is >= ``threshold``.

    The threshold maximizes accuracy on the shadow records (the attacker's
    data), exactly as the SVM is fit on them.
    """

    threshold: float
    trained_on: frozenset = field(default_factory=frozenset)

    @classmethod
    def fit(cls, train: AttackData) -> "ThresholdAttack":
        score = true_class_confidence(train)
        fpr, tpr, thr = roc_curve(train.member, score)
        pos, neg = train.member.sum(), (~train.member).sum()
        acc = (tpr * pos + (1 - fpr) * neg) / (pos + neg)
        best = int(np.argmax(acc))
        return cls(float(min(thr[best], 1.0)), frozenset(np.unique(train.source).tolist()))

    def score(self, data: AttackData) -> np.ndarray:
        return true_class_confidence(data)

    def predict(self, data: AttackData) -> np.ndarray:
        return (self.score(data) >= self.threshold).astype(int)
