"""Stage II: attack the target with per-class SVMs trained on the shadows.

Writes, under ``results/<profile>/``:

* ``attack_scores_<n>.npz`` — one row per target record (:data:`SCORE_ARRAYS`):
  ``member`` (bool), ``true_class`` (int64), ``score`` (float64, the
  Platt-calibrated log-odds of membership: one scale across classes, the
  headline ROC/AUC), ``threshold`` (float64, the record's class threshold),
  ``pred`` (int64, ``score >= threshold``), ``decision_value`` (float64, the
  class SVM's raw decision value); ``baseline_score`` / ``baseline_threshold``
  / ``baseline_pred`` of the threshold baseline;
* ``summary.json`` — the contract described in :func:`build_summary`;

Both are :class:`~mia_repro.attacks.MembershipAttack` objects judged by
:func:`~mia_repro.evaluation.evaluate.evaluate_attack`; the comparison stage takes the
SVM's result from here (:func:`svm_result`) instead of evaluating it again.
Per size, the store (:mod:`mia_repro.experiment.store`) keeps one entry (its
score arrays, then its block as the marker) and the fitted attack models (for
the mitigation stage), named by :class:`~mia_repro.experiment.layout.Layout`.  The key hashes the attack, model and split settings *and*
the Stage I outputs' fingerprint, so a retrained Stage I never pairs with an
old attack; ``attack_scores_<n>.npz`` is rewritten from the keyed copy on
every run, so the scores beside ``summary.json`` are always the ones it
describes.  A damaged cache entry is reported and refit.
"""
from __future__ import annotations

import time

import numpy as np

from mia_repro.experiment.lock import exclusive
from mia_repro.attacks import AttackerView, ConfidenceThreshold, PerClassSVMs, ShokriSVM
from mia_repro.base.cache import copy_file, load_json, load_npz, save_json
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.keys import to_dict
from mia_repro.experiment.keys import config_key
from mia_repro.evaluation.results import SCORE_ARRAYS as EVAL_ARRAYS, AttackResult
from mia_repro.evaluation.evaluate import evaluate_attack
from mia_repro.evaluation.metrics import Metric, attack_metrics
from mia_repro.experiment.outputs import SizeOutputs
from mia_repro.experiment.stages.stage1 import load_stage1
from mia_repro.experiment.provenance import computed_on, stage1_meta, versions
from mia_repro.base.paths import portable
from mia_repro.experiment.store import Part, get_or_compute, load_entry, save_entry
from mia_repro.training import choose_trainer, machine_info


STAGE2_VERSION = 4  # 3: one estimator contract, per-class thresholds that give pred; 4: score = calibrated log-odds
#: what the fitted SVMs (the ``.svms.npz``) depend on beyond the config: unchanged by how they are scored
SVM_FIT_VERSION = 3


#: the arrays of ``attack_scores_<n>.npz``: the SVM's (:data:`~mia_repro.evaluation.evaluate.SCORE_ARRAYS`), its raw
#: decision values, and the threshold baseline's score, decision and threshold per record
SCORE_ARRAYS = EVAL_ARRAYS + ("decision_value", "baseline_score", "baseline_pred", "baseline_threshold")


def _keys(cfg: ExperimentConfig, so: SizeOutputs) -> tuple[str, str]:
    """``(key, fit_key)`` of one size: what its scores and block depend on, and what its fitted SVMs do."""
    parts = (cfg.attack, cfg.model, cfg.seed, cfg.n_shadows, cfg.n_records, so.size, so.fingerprint())
    return config_key(STAGE2_VERSION, *parts), config_key(SVM_FIT_VERSION, *parts)


def _entry(cfg: ExperimentConfig, so: SizeOutputs) -> dict[str, Part]:
    """The cache entry of one size: its ``scores`` (:data:`SCORE_ARRAYS`), then its ``block`` (the marker)."""
    key, _ = _keys(cfg, so)
    layout = cfg.layout
    return {"scores": Part(layout.stage2_scores(so.size, key), key, "npz", target_scores_check(so, SCORE_ARRAYS)),
            "block": Part(layout.stage2_block(so.size, key), key, "json", _check_block)}


def _svms(cfg: ExperimentConfig, so: SizeOutputs) -> dict[str, Part]:
    """The fitted per-class SVMs of one size (kept for the mitigation stage; git-ignored)."""
    _, fit_key = _keys(cfg, so)
    return {"svms": Part(cfg.layout.stage2_svms(so.size, fit_key), fit_key, "npz",
                         _attack_check(so.target.probs.shape[1]))}


def target_scores_check(so: SizeOutputs, fields: tuple[str, ...]):
    """The check of a cached score file (:func:`mia_repro.base.cache.load_npz`): exactly ``fields``, each with a row
    per target record (2n), members where the target's are, and every decision the score's comparison with
    the recorded threshold.  Stage II's and the comparison's score files."""
    def check(arrays: dict) -> None:
        if set(arrays) != set(fields):
            raise ValueError(f"arrays {sorted(arrays)}, expected {sorted(fields)}")
        if any(len(a) != len(so.target.member) for a in arrays.values()):
            raise ValueError(f"not {len(so.target.member)} rows (the target's records)")
        if not np.array_equal(arrays["member"], so.target.member):
            raise ValueError("membership differs from the target's")
        for prefix in ("", "baseline_"):
            if f"{prefix}pred" in arrays and not np.array_equal(
                    arrays[f"{prefix}pred"], arrays[f"{prefix}score"] >= arrays[f"{prefix}threshold"]):
                raise ValueError(f"{prefix}pred is not {prefix}score >= {prefix}threshold")
    return check


def _check_block(block) -> None:
    if not isinstance(block, dict) or not {"target", "attack", "baseline"} <= set(block) or "auc" not in block["attack"]:
        raise ValueError("incomplete size block")


def svm_block(result: AttackResult, svm: ShokriSVM, decision: np.ndarray) -> dict:
    """The ``attack`` block of one size: the SVM's evaluation (:meth:`AttackResult.block`, the pooled
    calibrated score) and how each class's SVM was chosen, the AUC of the raw pooled decision values, the
    mean per-class AUC, and ``boundary_disagreements``: target records where ``score >= threshold`` and the
    SVM's own sign (decision value > 0) differ (a calibrated log-odds rounded onto the boundary's)."""
    member, pred = result.scores["member"], result.scores["pred"]
    block = result.block()
    per_class = block["per_class"]
    block["auc_mean_per_class"] = float(np.nanmean(per_class["auc"]))
    block["auc_raw_pooled"] = attack_metrics(member, decision, pred).auc
    block["pooled_score"] = "Platt-calibrated log-odds of membership per class (fit on shadow records)"
    block["boundary_disagreements"] = int(((decision > 0).astype(np.int64) != pred).sum())
    classes = svm.svms_.classes
    per_class["C"] = [c.C for c in classes]
    per_class["gamma"] = [c.gamma for c in classes]
    per_class["cv_accuracy"] = [c.cv_accuracy for c in classes]
    per_class["edge_hit"] = [bool(c.edge_hit) for c in classes]
    per_class["cv_beyond_edge"] = [c.beyond for c in classes]
    block["grid_edge_hits"] = int(sum(c.edge_hit for c in classes))
    beyond = [b for b in per_class["cv_beyond_edge"] if b]
    block["grid_edge_plateaued"] = int(sum(b["plateaued"] for b in beyond))
    block["grid_edge_max_gain"] = max((b["gain"] for b in beyond), default=None)
    return block


BASELINE_NAME = "one global threshold on log p_y, from the logits in float64 (fit on shadow records)"


def attack_size(cfg: ExperimentConfig, so: SizeOutputs, show_progress: bool = True
                ) -> tuple[dict, dict, ShokriSVM]:
    """Fit the tuned Shokri SVM and the threshold baseline of one size on its shadows and evaluate them on its
    target
    (:func:`~mia_repro.evaluation.evaluate.evaluate_attack`).

    Returns ``(size_block, score_arrays, svm)``; ``size_block`` holds ``target``, ``shadows``, ``attack``
    (:func:`svm_block`) and ``baseline`` entries of ``summary.json``.
    """
    view = AttackerView.from_stage1(so)
    member = so.target.member
    svm = ShokriSVM(cfg.attack, cfg.seed, beyond_edge=True, verbose=show_progress)
    result = evaluate_attack(svm, view, member, seed=cfg.seed)
    baseline = evaluate_attack(ConfidenceThreshold(), view, member, seed=cfg.seed)
    decision = svm.svm_decision(view)
    block = {
        "target": {"train_acc": so.target.train_acc, "test_acc": so.target.test_acc},
        "shadows": {
            "train_acc_mean": float(np.mean([s.train_acc for s in so.shadows])),
            "test_acc_mean": float(np.mean([s.test_acc for s in so.shadows])),
        },
        "attack": svm_block(result, svm, decision),
        "baseline": {"name": BASELINE_NAME, **baseline.block()},
        "n_attack_train": int(len(view.shadow_records())),
        "n_attack_test": int(len(view)),
    }
    arrays = {**result.arrays(), "decision_value": decision,
              **{f"baseline_{k}": baseline.scores[k] for k in ("score", "pred", "threshold")}}
    return block, arrays, svm


def svm_result(cfg: ExperimentConfig, so: SizeOutputs, log=print) -> AttackResult:
    """The tuned Shokri SVM's evaluation at one size as Stage II published it (its cached entry, computed
    if absent): the comparison stage takes this result rather than evaluating the SVM again."""
    block, arrays, _ = size_entry(cfg, so, log)
    return AttackResult.from_block(ShokriSVM.name, block["attack"], arrays)


def load_attack(cfg: ExperimentConfig, so: SizeOutputs, log=print) -> ShokriSVM:
    """The fitted Stage II SVMs of one size as a fitted :class:`~mia_repro.attacks.ShokriSVM`
    (:meth:`~mia_repro.attacks.ShokriSVM.from_fitted`), used only if they give back, on the target's records,
    the scores and decisions of Stage II's verified score file; refit (and kept, with their digest) when
    absent (they are git-ignored), unverified or not those (reported by path)."""
    params = {"cfg": cfg.attack, "seed": cfg.seed, "beyond_edge": True}  # as Stage II fits them
    _, published, _ = size_entry(cfg, so, log)
    parts = _svms(cfg, so)
    found = load_entry(parts, log, then="refitting")
    if found is not None:
        svm = ShokriSVM.from_fitted(PerClassSVMs.from_arrays(found["svms"]), **params)
        differs = _differs_from(svm, so, published)
        if differs is None:
            return svm
        log(f"  cache entry not usable: {parts['svms'].path}: {differs}; refitting")
    svm = ShokriSVM(**params).fit(AttackerView.from_stage1(so))
    differs = _differs_from(svm, so, published)
    if differs is not None:  # another machine's floating point, or Stage II's scores from other SVMs
        log(f"  refit SVMs n={so.size}: {differs} (Stage II's file {_entry(cfg, so)['scores'].path})")
    save_entry(parts, {"svms": svm.svms_.to_arrays()})
    return svm


#: how far a kept SVM's scores may lie from Stage II's: floating point of another CPU moves calibrated
#: log-odds by ~1e-8, a forged coefficient or calibration by far more
SCORE_TOLERANCE = 1e-6


def _differs_from(svm: ShokriSVM, so: SizeOutputs, published: dict) -> str | None:
    """What differs between ``svm``'s scores, decision values and decisions on ``so``'s target and Stage II's
    published ones (``published``: its score arrays), or None when they agree: values to
    :data:`SCORE_TOLERANCE` (absolute and relative), decisions wherever the score is farther than that from
    its threshold."""
    view = AttackerView.from_stage1(so)
    score, decision, thresholds = svm.decision_function(view), svm.svm_decision(view), svm.thresholds(view)
    for name, mine in (("score", score), ("decision_value", decision)):
        off = ~np.isclose(mine, published[name], rtol=SCORE_TOLERANCE, atol=SCORE_TOLERANCE)
        if off.any():
            return (f"their {name}s on the target are not Stage II's ({int(off.sum())} of {len(mine)} records "
                    f"differ, by up to {float(np.abs(mine - published[name]).max()):.3g})")
    clear = np.abs(score - thresholds) > SCORE_TOLERANCE
    flipped = clear & ((score >= thresholds).astype(np.int64) != published["pred"])
    if flipped.any():
        return f"their decisions on the target are not Stage II's ({int(flipped.sum())} differ)"
    return None


def _attack_check(num_classes: int):
    """The check of a fitted-SVM file: :meth:`PerClassSVMs.from_arrays` reads it (numbers only, no code), and it
    holds one SVM per class of the ``num_classes``."""
    def check(arrays) -> None:
        found = len(PerClassSVMs.from_arrays(arrays).classes)
        if found != num_classes:
            raise ValueError(f"{found} classes' SVMs in it, expected {num_classes}")
    return check


def size_entry(cfg: ExperimentConfig, so: SizeOutputs, log=print) -> tuple[dict, dict, bool]:
    """``(size_block, score_arrays, cached)`` of one size: the verified cache entry (``cached`` True), or
    the SVMs fitted now (never scored from a kept ``.svms.npz``: what Stage II publishes is what it fitted)
    and cached, the fitted SVMs kept for the mitigation stage."""
    def compute() -> dict:
        t0 = time.perf_counter()
        block, arrays, svm = attack_size(cfg, so)
        block["seconds"] = time.perf_counter() - t0
        block["stage1_fingerprint"] = so.fingerprint()
        block["ran_on"] = machine_info()
        save_entry(_svms(cfg, so), {"svms": svm.svms_.to_arrays()})
        return {"scores": arrays, "block": block}

    entry, cached = get_or_compute(_entry(cfg, so), compute, log, then="refitting", check=_consistent)
    return entry["block"], entry["scores"], cached


def _consistent(entry: dict) -> None:
    """The SVM's and the baseline's published metrics re-derived from the score file
    (:func:`mia_repro.evaluation.metrics.check_published`)."""
    from mia_repro.evaluation.metrics import check_published

    s = entry["scores"]
    check_published(entry["block"]["attack"], s)
    check_published(entry["block"]["baseline"], {"member": s["member"], "true_class": s["true_class"],
                                                 "score": s["baseline_score"], "pred": s["baseline_pred"]})


def build_summary(cfg: ExperimentConfig, blocks: dict[int, dict], stage1: dict[int, SizeOutputs]) -> dict:
    """``summary.json``: ``{"profile", "backend", "seed", "epochs", "n_shadows", "versions",
    "sizes": {"<n>": {"target": {...}, "shadows": {...}, "attack": {..., "per_class": {...}},
    "baseline": {...}}}}`` plus the trainer, device and the full config.

    ``stage1`` (:func:`mia_repro.experiment.stages.stage1.load_stage1`'s outputs): backend, device and trainer name the
    machine that trained the models (:func:`mia_repro.experiment.provenance.stage1_meta`, with ``stage1_trained_on``
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
        "stage2_ran_on": computed_on([blocks[n].get("ran_on") for n in sorted(blocks)]),
        "versions": versions(),
        "positive_class": "member",
        "sizes": {str(n): blocks[n] for n in sorted(blocks)},
        "config": {**to_dict(cfg), **{k: portable(getattr(cfg, k)) for k in ("data_path", "results_dir", "stage1_dir")}},
    }


@exclusive
def run_stage2(cfg: ExperimentConfig, log=print) -> dict:
    """Run (or load from cache) the attack for every size; write the scores and ``summary.json``."""
    start = time.perf_counter()
    stage1 = load_stage1(cfg)
    log(f"Stage II [{cfg.profile}]: sizes {list(cfg.sizes)}, grid C={list(cfg.attack.C_grid)} "
        f"gamma={list(cfg.attack.gamma_grid)}, {cfg.attack.cv_folds}-fold CV on <= {cfg.attack.cv_samples} "
        f"records/class, fit on <= {cfg.attack.fit_samples}")
    blocks = {}
    for size, so in stage1.items():
        blocks[size], _, cached = size_entry(cfg, so, log)
        how = "cached" if cached else f"{blocks[size]['seconds']:.0f}s"
        # of the verified entry, byte for byte: git stores one blob
        copy_file(_entry(cfg, so)["scores"].path, cfg.layout.attack_scores(size))
        a, b = blocks[size]["attack"], blocks[size]["baseline"]
        log(f"  n={size} ({how}): SVM precision {a['precision']:.3f} recall {a['recall']:.3f} "
            f"AUC {a['auc']:.3f} | threshold baseline precision {b['precision']:.3f} AUC {b['auc']:.3f}"
            + (f" | grid edge hit in {a['grid_edge_hits']}/10 classes, plateaued one step beyond in "
               f"{a.get('grid_edge_plateaued', 0)} (largest CV gain {a.get('grid_edge_max_gain') or 0:+.3f})"
               if a.get("grid_edge_hits") else ""))
    summary = build_summary(cfg, blocks, stage1)
    save_json(cfg.layout.summary, summary)
    log(f"Stage II done in {time.perf_counter() - start:.0f}s -> {cfg.layout.summary}")
    return summary


def load_summary(cfg: ExperimentConfig) -> dict:
    """``summary.json`` of ``cfg``'s results folder (written by :func:`run_stage2`)."""
    return load_json(cfg.layout.summary)


def load_scores(cfg: ExperimentConfig, size: int) -> dict[str, np.ndarray]:
    """The arrays of ``attack_scores_<size>.npz``."""
    return load_npz(cfg.layout.attack_scores(size))


def subsample_ablation(cfg: ExperimentConfig, size: int, fit_samples: tuple[int, ...], log=print) -> list[dict]:
    """Refit the attack of one size with several ``fit_samples`` (same seed).

    Returns one row per setting: fit_samples, cv_samples, seconds (of the fit that computed it), precision,
    recall, accuracy, auc, tpr_at_0.1pct_fpr.  Cached in the store (``stage2/ablation-n<size>-<key>.json``,
    keyed by the config, the settings and the Stage I fingerprint), so a rerun of notebook 02 refits nothing.
    """
    import dataclasses

    so = load_stage1(cfg)[size]
    key = config_key("ablation", STAGE2_VERSION, cfg.attack, cfg.model, cfg.seed, cfg.n_shadows, cfg.n_records, size,
                     so.fingerprint(), tuple(fit_samples))

    def check(rows) -> None:
        if not isinstance(rows, list) or [r.get("fit_samples") for r in rows] != list(fit_samples):
            raise ValueError(f"rows for fit_samples {list(fit_samples)} expected")

    def compute() -> dict:
        rows = []
        for n in fit_samples:
            c = dataclasses.replace(cfg, attack=dataclasses.replace(cfg.attack, fit_samples=n,
                                                                    cv_samples=min(n, cfg.attack.cv_samples)))
            t0 = time.perf_counter()
            block, _, _ = attack_size(c, so, show_progress=False)
            a = block["attack"]
            rows.append({"fit_samples": n, "cv_samples": c.attack.cv_samples,
                         "seconds": round(time.perf_counter() - t0, 1),
                         **{k: a[k] for k in (Metric.PRECISION, Metric.RECALL, Metric.ACCURACY, Metric.AUC, Metric.TPR_AT_0_1PCT_FPR)}})
        return {"rows": rows}

    parts = {"rows": Part(cfg.layout.stage2_ablation(size, key), key, "json", check)}
    return get_or_compute(parts, compute, log)[0]["rows"]
