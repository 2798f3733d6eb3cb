"""Stage II: attack the target with per-class SVMs trained on the shadows.

Writes, under ``results/<profile>/``:

* ``attack_scores_<n>.npz`` — one row per target record: ``member`` (bool),
  ``true_class`` (int), ``score`` (float, SVM decision function), ``pred``
  (0/1 int), ``calibrated_score`` (float, Platt-calibrated probability of
  membership: one scale across classes, the headline ROC/AUC); plus
  ``baseline_score`` / ``baseline_pred`` of the threshold baseline;
* ``summary.json`` — the contract described in :func:`build_summary`;
* the Stage II figures (:func:`mia_repro.plots.stage2_figures`).

Per size, ``stage2/n<size>-<key>.json`` marks a finished attack, ``.npz``
keeps its score arrays and ``.pkl`` the fitted attack models (for the
mitigation stage).  The key hashes the attack, model and split settings *and*
the Stage I outputs' fingerprint, so a retrained Stage I never pairs with an
old attack; ``attack_scores_<n>.npz`` is rewritten from the keyed copy on
every run, so the scores beside ``summary.json`` are always the ones it
describes.  A damaged cache entry is reported and refit.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .attacks import PerClassAttack, ThresholdAttack, attack_dataset, check_disjoint, fit_attack
from .cache import CacheEntryError, copy_file, load_json, load_npz, load_pickle, save_json, save_npz, save_pickle
from .config import ExperimentConfig, config_key, to_dict
from .metrics import attack_metrics, metrics_by_class, score_ties
from .spread import spread_for
from .stage1 import SizeOutputs, load_stage1, n_records, stage1_meta
from .training import choose_trainer, machine_info


def versions() -> dict[str, str]:
    """Library versions that a result depends on."""
    from .quiet import keras
    import sklearn

    out = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__, "scikit-learn": sklearn.__version__}
    backend = keras.backend.backend()
    try:
        mod = __import__(backend)
        out[backend] = mod.__version__
    except Exception:  # pragma: no cover - backend without __version__
        pass
    return out


BOOTSTRAP = 200  # resamples behind every TPR@FPR interval
STAGE2_VERSION = 2  # 2: the baseline on log p_y from the logits, score ties, the CV one step beyond the grid's edge


SCORE_ARRAYS = ("member", "true_class", "score", "pred", "calibrated_score", "baseline_score", "baseline_pred")


def _stage2_paths(cfg: ExperimentConfig, so: SizeOutputs) -> dict[str, Path | str]:
    """The cache entries of one size (``marker`` block, ``scores``, ``pkl`` SVMs), their ``key``, and the
    ``public`` copy of the scores."""
    key = config_key(STAGE2_VERSION, cfg.attack, cfg.model, cfg.seed, cfg.n_shadows, n_records(cfg), so.size,
                     so.fingerprint())
    base = cfg.output_dir / "stage2" / f"n{so.size}-{key}"
    return {"marker": base.with_suffix(".json"), "pkl": base.with_suffix(".pkl"), "scores": base.with_suffix(".npz"),
            "public": cfg.output_dir / f"attack_scores_{so.size}.npz", "key": key}


def target_scores_check(so: SizeOutputs, fields: tuple[str, ...]):
    """The check of a cached score file (:func:`mia_repro.cache.load_npz`): exactly ``fields``, each with a row
    per target record (2n), members where the target's are.  Stage II's and the comparison's score files."""
    def check(arrays: dict) -> None:
        if set(arrays) != set(fields):
            raise ValueError(f"arrays {sorted(arrays)}, expected {sorted(fields)}")
        if any(len(a) != len(so.target.member) for a in arrays.values()):
            raise ValueError(f"not {len(so.target.member)} rows (the target's records)")
        if not np.array_equal(arrays["member"], so.target.member):
            raise ValueError("membership differs from the target's")
    return check


def _check_block(block) -> None:
    if not isinstance(block, dict) or not {"target", "attack", "baseline"} <= set(block) or "auc" not in block["attack"]:
        raise ValueError("incomplete size block")


def attack_block(member, true_class, score, pred, classes=None, calibrated=None, seed: int = 0) -> dict:
    """The ``attack`` block of one size: overall metrics + ``per_class`` lists.

    With ``calibrated`` (per-class scores put on one scale), the headline
    ``auc`` and TPRs use it; ``auc_raw_pooled`` keeps the AUC of the raw pooled
    ``score`` and ``auc_mean_per_class`` the mean of the per-class AUCs.
    """
    pooled = score if calibrated is None else calibrated
    block = attack_metrics(member, pooled, pred, bootstrap=BOOTSTRAP, seed=seed)
    block["ties"] = score_ties(member, pooled)
    per_class = metrics_by_class(member, true_class, score, pred)
    block["per_class"] = per_class
    block["auc_mean_per_class"] = float(np.nanmean(per_class["auc"]))
    if calibrated is not None:
        block["auc_raw_pooled"] = attack_metrics(member, score, pred)["auc"]
        block["pooled_score"] = "Platt-calibrated probability per class (fit on shadow records)"
    if classes is not None:
        block["per_class"]["C"] = [c.C for c in classes]
        block["per_class"]["gamma"] = [c.gamma for c in classes]
        block["per_class"]["cv_accuracy"] = [c.cv_accuracy for c in classes]
        block["per_class"]["edge_hit"] = [bool(c.edge_hit) for c in classes]
        block["per_class"]["cv_beyond_edge"] = [getattr(c, "beyond", None) for c in classes]
        block["grid_edge_hits"] = int(sum(c.edge_hit for c in classes))
        beyond = [b for b in block["per_class"]["cv_beyond_edge"] if b]
        block["grid_edge_plateaued"] = int(sum(b["plateaued"] for b in beyond))
        block["grid_edge_max_gain"] = max((b["gain"] for b in beyond), default=None)
    return block


def attack_size(cfg: ExperimentConfig, so: SizeOutputs, show_progress: bool = True) -> tuple[dict, dict, PerClassAttack]:
    """Fit the attacks of one size on its shadows and evaluate them on its target.

    Returns ``(size_block, score_arrays, svm_attack)``; ``size_block`` holds
    ``target``, ``shadows``, ``attack`` and ``baseline`` entries of
    ``summary.json``.
    """
    train = attack_dataset(so.shadows)
    test = attack_dataset([so.target])
    progress = (lambda it: tqdm(it, desc=f"attack n={so.size}", unit="class", leave=False)) if show_progress else None
    svm = fit_attack(train, cfg.attack, cfg.seed, cfg.model.num_classes, progress=progress, beyond_edge=True)
    check_disjoint(svm, test)
    score, pred, calibrated = svm.score(test), svm.predict(test), svm.calibrated_score(test)
    thr = ThresholdAttack.fit(train)
    b_score, b_pred = thr.score(test), thr.predict(test)
    block = {
        "target": {"train_acc": so.target.train_acc, "test_acc": so.target.test_acc},
        "shadows": {
            "train_acc_mean": float(np.mean([s.train_acc for s in so.shadows])),
            "test_acc_mean": float(np.mean([s.test_acc for s in so.shadows])),
        },
        "attack": attack_block(test.member, test.true_class, score, pred, svm.classes, calibrated, cfg.seed),
        "baseline": {
            "name": "one global threshold on log p_y, from the logits in float64 (fit on shadow records)",
            "threshold": thr.threshold,
            **attack_block(test.member, test.true_class, b_score, b_pred, seed=cfg.seed),
        },
        "n_attack_train": int(len(train)),
        "n_attack_test": int(len(test)),
    }
    arrays = {
        "member": test.member.astype(bool),
        "true_class": test.true_class.astype(np.int64),
        "score": score.astype(np.float64),
        "pred": pred.astype(np.int64),
        "calibrated_score": calibrated.astype(np.float64),
        "baseline_score": b_score,
        "baseline_pred": b_pred.astype(np.int64),
    }
    return block, arrays, svm


def load_attack(cfg: ExperimentConfig, so: SizeOutputs, log=print) -> PerClassAttack:
    """The fitted Stage II SVMs of one size; refit from the Stage I outputs and kept (``.pkl`` with its digest)
    when absent (they are git-ignored) or not verified (reported by path)."""
    paths = _stage2_paths(cfg, so)
    if paths["pkl"].exists():
        try:
            return load_pickle(paths["pkl"], paths["key"], check=_is_attack)
        except CacheEntryError as exc:
            log(f"  cache entry not usable: {exc}; refitting")
    svm = fit_attack(attack_dataset(so.shadows), cfg.attack, cfg.seed, cfg.model.num_classes)
    save_pickle(paths["pkl"], svm, paths["key"])
    return svm


def _is_attack(obj) -> None:
    if not isinstance(obj, PerClassAttack):
        raise TypeError(f"a {type(obj).__name__}, not the per-class SVM attack")


def _load_cached(paths: dict, so: SizeOutputs, log) -> tuple[dict, dict] | None:
    """The cached ``(block, arrays)`` of one size, or None (absent, or not verified: reported by path)."""
    if not (paths["marker"].exists() and paths["scores"].exists()):
        return None
    try:
        block = load_json(paths["marker"], key=paths["key"], check=_check_block)
        arrays = load_npz(paths["scores"], key=paths["key"], check=target_scores_check(so, SCORE_ARRAYS))
        return block, arrays
    except CacheEntryError as exc:
        log(f"  cache entry not usable: {exc}; refitting")
        return None


def build_summary(cfg: ExperimentConfig, blocks: dict[int, dict], stage1: dict[int, SizeOutputs]) -> dict:
    """``summary.json``: ``{"profile", "backend", "seed", "epochs", "n_shadows", "versions",
    "sizes": {"<n>": {"target": {...}, "shadows": {...}, "attack": {..., "per_class": {...}},
    "baseline": {...}}}}`` plus the trainer, device and the full config.

    ``stage1`` (:func:`mia_repro.stage1.load_stage1`'s outputs): backend, device and trainer name the
    machine that trained the models (:func:`mia_repro.stage1.stage1_meta`, with ``stage1_trained_on``
    per size); ``stage2_ran_on`` names the machine that fitted the attack.
    """
    meta = stage1_meta(cfg, stage1)
    del meta["sizes"]
    trainer, reason = choose_trainer(cfg.trainer)
    if meta["trainer"] != trainer:
        trainer, reason = meta["trainer"], "as recorded in the Stage I model files"
    return {
        **meta,
        "trainer": {"name": trainer, "reason": reason},
        "stage2_ran_on": machine_info(),
        "versions": versions(),
        "positive_class": "member",
        "sizes": {str(n): blocks[n] for n in sorted(blocks)},
        "seed_spread": spread_for(cfg, "summary"),
        "config": to_dict(cfg),
    }


def run_stage2(cfg: ExperimentConfig, log=print, figures: bool = True) -> dict:
    """Run (or load from cache) the attack for every size; write scores, summary and figures."""
    start = time.perf_counter()
    stage1 = load_stage1(cfg)
    log(f"Stage II [{cfg.profile}]: sizes {list(cfg.sizes)}, grid C={list(cfg.attack.C_grid)} "
        f"gamma={list(cfg.attack.gamma_grid)}, {cfg.attack.cv_folds}-fold CV on <= {cfg.attack.cv_samples} "
        f"records/class, fit on <= {cfg.attack.fit_samples}")
    blocks = {}
    for size, so in stage1.items():
        t0 = time.perf_counter()
        paths = _stage2_paths(cfg, so)
        cached = _load_cached(paths, so, log)
        if cached is not None:
            blocks[size], arrays = cached
            how = "cached"
        else:
            block, arrays, svm = attack_size(cfg, so)
            block["seconds"] = time.perf_counter() - t0
            block["stage1_fingerprint"] = so.fingerprint()
            save_npz(paths["scores"], key=paths["key"], **arrays)
            save_pickle(paths["pkl"], svm, paths["key"])
            save_json(paths["marker"], block, key=paths["key"])
            blocks[size] = block
            how = f"{block['seconds']:.0f}s"
        copy_file(paths["scores"], paths["public"])  # of the verified entry, byte for byte: git stores one blob
        a, b = blocks[size]["attack"], blocks[size]["baseline"]
        log(f"  n={size} ({how}): SVM precision {a['precision']:.3f} recall {a['recall']:.3f} "
            f"AUC {a['auc']:.3f} | threshold baseline precision {b['precision']:.3f} AUC {b['auc']:.3f}"
            + (f" | grid edge hit in {a['grid_edge_hits']}/10 classes, plateaued one step beyond in "
               f"{a.get('grid_edge_plateaued', 0)} (largest CV gain {a.get('grid_edge_max_gain') or 0:+.3f})"
               if a.get("grid_edge_hits") else ""))
    summary = build_summary(cfg, blocks, stage1)
    save_json(cfg.output_dir / "summary.json", summary)
    if figures:
        from .plots import stage2_figures

        stage2_figures(summary, cfg.output_dir)
    log(f"Stage II done in {time.perf_counter() - start:.0f}s -> {cfg.output_dir / 'summary.json'}")
    return summary


def load_summary(cfg: ExperimentConfig) -> dict:
    """``summary.json`` of ``cfg``'s results folder (written by :func:`run_stage2`)."""
    return load_json(cfg.output_dir / "summary.json")


def load_scores(cfg: ExperimentConfig, size: int) -> dict[str, np.ndarray]:
    """The arrays of ``attack_scores_<size>.npz``."""
    return load_npz(cfg.output_dir / f"attack_scores_{size}.npz")


def subsample_ablation(cfg: ExperimentConfig, size: int, fit_samples: tuple[int, ...]) -> list[dict]:
    """Refit the attack of one size with several ``fit_samples`` (same seed).

    Returns one row per setting: fit_samples, seconds, precision, recall, auc,
    tpr_at_0.1pct_fpr (nothing is written to disk).
    """
    import dataclasses

    so = load_stage1(cfg)[size]
    rows = []
    for n in fit_samples:
        c = dataclasses.replace(cfg, attack=dataclasses.replace(cfg.attack, fit_samples=n, cv_samples=min(n, cfg.attack.cv_samples)))
        t0 = time.perf_counter()
        block, _, _ = attack_size(c, so, show_progress=False)
        a = block["attack"]
        rows.append({"fit_samples": n, "cv_samples": c.attack.cv_samples, "seconds": round(time.perf_counter() - t0, 1),
                     **{k: a[k] for k in ("precision", "recall", "accuracy", "auc", "tpr_at_0.1pct_fpr")}})
    return rows
