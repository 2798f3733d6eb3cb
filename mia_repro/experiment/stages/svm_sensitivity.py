"""How much of the Shokri SVM's level is its tuning: the untuned per-class SVM at a few (C, gamma) pairs.

The tuned attack (``shokri_svm``) picks C and gamma per class by 5-fold CV on a grid reaching C = 1e5,
gamma = 1e4 (paper profile); the paper describes no such search.  Here the per-class RBF SVM of
``shokri_svm_fixed`` is refit at every pair of :data:`PAIRS` -- the 3 x 3 neighbourhood of its default
(C = 1, gamma = 0.1, scikit-learn's SVC defaults of 2017 on 10-class softmax vectors) and one step beyond its
upper corner -- on the same shadow
records and fit subsample, from the cached Stage I outputs (no model is trained), and judged on the target
like every attack: the median over classes of precision and recall (Fig. 4 of the paper is the median class
precision), the pooled AUC of the Platt-calibrated score and TPR at 1% FPR.

Writes ``results/<profile>/svm_sensitivity.json`` (per size, one row per pair); cached per size under
``svm_sensitivity/n<size>-<key>.json`` (key: the pairs, the attack config, the seed, the Stage I fingerprint).
"""
from __future__ import annotations

import time

import numpy as np

from mia_repro.attacks import AttackerView, ShokriSVMFixed
from mia_repro.base.cache import load_json, save_json
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.keys import config_key
from mia_repro.experiment.store import Part, get_or_compute
from mia_repro.evaluation.evaluate import evaluate_attack
from mia_repro.experiment.outputs import SizeOutputs
from mia_repro.evaluation.metrics import Metric

SENSITIVITY_VERSION = 3  # 3: the fixed SVM scores by calibrated log-odds, its decision log-odds >= its class threshold
#: (C, gamma) pairs: C in {0.1, 1, 10} x gamma in {0.01, 0.1, 1}, around the fixed variant's default (1, 0.1),
#: and one step beyond the upper corner, (100, 10): the tuned SVM's optimum lies far up that diagonal
PAIRS = tuple((C, g) for C in (0.1, 1.0, 10.0) for g in (0.01, 0.1, 1.0)) + ((100.0, 10.0),)
ROW_KEYS = ("C", "gamma", "median_class_precision", "median_class_recall", "precision", "recall", "auc",
            Metric.TPR_AT_1PCT_FPR, "seconds")


def sensitivity_rows(cfg: ExperimentConfig, so: SizeOutputs, pairs=PAIRS) -> list[dict]:
    """One row of :data:`ROW_KEYS` per ``(C, gamma)`` of ``pairs`` for the size ``so``: the per-class SVMs
    (:class:`~mia_repro.attacks.ShokriSVMFixed` at that pair) fit on the shadows' records (attacker data
    only), judged on the target's 2n records (:func:`~mia_repro.evaluation.evaluate.evaluate_attack`)."""
    view = AttackerView.from_stage1(so)
    rows = []
    for C, gamma in pairs:
        r = evaluate_attack(ShokriSVMFixed(cfg.attack, cfg.seed, C=C, gamma=gamma), view, so.target.member,
                            bootstrap=0)
        m = r.metrics
        rows.append({"C": float(C), "gamma": float(gamma),
                     "median_class_precision": float(np.nanmedian(r.per_class["precision"])),
                     "median_class_recall": float(np.nanmedian(r.per_class["recall"])),
                     "precision": m.precision, "recall": m.recall, "auc": m.auc,
                     Metric.TPR_AT_1PCT_FPR: m.tpr(0.01), "seconds": r.seconds})
    return rows


def _check_rows(rows) -> None:
    if not isinstance(rows, list) or [(r.get("C"), r.get("gamma")) for r in rows] != [tuple(map(float, p)) for p in PAIRS]:
        raise ValueError("not one row per (C, gamma) pair")
    if any(tuple(r) != ROW_KEYS for r in rows):
        raise ValueError("a row is incomplete")


def run_svm_sensitivity(cfg: ExperimentConfig, stage1: dict[int, SizeOutputs], meta: dict, log=print) -> dict:
    """Rows of every size (cached per size); writes and returns ``svm_sensitivity.json`` (``meta`` first)."""
    start = time.perf_counter()
    sizes = {}
    for size, so in stage1.items():
        key = config_key(SENSITIVITY_VERSION, PAIRS, cfg.attack, cfg.seed, cfg.n_shadows, size, so.fingerprint())
        part = {"rows": Part(cfg.layout.sensitivity_rows(size, key), key, "json", _check_rows)}
        rows = get_or_compute(part, lambda: {"rows": sensitivity_rows(cfg, so)}, log)[0]["rows"]
        sizes[str(size)] = rows
        best = max(rows, key=lambda r: r["median_class_precision"])
        log(f"  SVM sensitivity n={size}: median class precision {min(r['median_class_precision'] for r in rows):.3f}"
            f"-{best['median_class_precision']:.3f} over {len(rows)} (C, gamma) pairs (best at C={best['C']:g}, "
            f"gamma={best['gamma']:g})")
    result = {**meta, "pairs": [list(p) for p in PAIRS], "default": [cfg.attack.fixed_C, cfg.attack.fixed_gamma],
              "what": "per-class RBF SVMs at fixed (C, gamma), no search; same shadow records and fit subsample as "
                      "shokri_svm; median over classes of precision / recall, pooled calibrated AUC",
              "wall_seconds_this_run": time.perf_counter() - start, "sizes": sizes}
    save_json(cfg.layout.svm_sensitivity, result)
    return result


def load_svm_sensitivity(cfg: ExperimentConfig) -> dict | None:
    """``svm_sensitivity.json`` of ``cfg``'s results folder, or None where the comparison has not written it."""
    path = cfg.layout.svm_sensitivity
    return load_json(path) if path.exists() else None
