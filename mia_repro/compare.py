"""The attack comparison: every attack of :mod:`mia_repro.attacks` on the same target, judged at low FPR.

For each size, the attacks are fit on what the attacker has (the Stage I
outputs of the shadows, their reference outputs on the target's records and
the population sample) and scored on the target's 2n records; the tuned
Shokri SVM's result is Stage II's own (evaluated once, published in both
``summary.json`` and here).  Writes under ``results/<profile>/``:

* ``attacks.json`` — provenance, then per size and attack: AUC, balanced
  accuracy, precision, recall, TPR at 1%, 0.1% and 0% FPR with seeded bootstrap
  95% intervals, the number of non-members behind them, both advantages, the
  parameters, the threshold (one number, or one per class: ``threshold_kind``), the paper and equation implemented, the variant's ``label``,
  what the attack chose on the attacker's data (``info``: e.g. RMIA's ``a``
  and ``gamma`` with every simulated AUC), the ties in its scores
  (:func:`~mia_repro.metrics.score_ties`), per-class precision / recall / AUC,
  and the fit time;
* ``attack_scores/<attack>_<n>.npz`` — ``member``, ``true_class``, ``score``,
  ``threshold``, ``pred`` per target record (``pred == score >= threshold``), so every number recomputes;
* the figures ``fig_attacks_roc.png`` and ``fig_attacks_tpr_vs_size.png``;
* ``svm_sensitivity.json`` (:mod:`mia_repro.svm_sensitivity`): the untuned SVM at a few (C, gamma) pairs.

Cached per size under ``compare/n<size>-<key>.json`` and
``compare/n<size>-<key>/<attack>.npz``; the key hashes the attack and output
settings, the seed and the Stage I fingerprint.  The public score files are
byte-for-byte copies of the cached ones.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .attacks import ATTACKS, AttackerView, ShokriSVM, new_attack
from .cache import CacheEntryError, copy_file, load_json, load_npz, save_json, save_npz
from .config import ExperimentConfig, config_key, to_dict
from .evaluation import BOOTSTRAP, SCORE_ARRAYS, AttackResult, evaluate_view
from .spread import spread_for
from .stage1 import SizeOutputs, load_data, load_stage1, stage1_meta
from .stage2 import STAGE2_VERSION, svm_result, target_scores_check, versions
from .training import machine_info

COMPARE_VERSION = 4  # 3: one estimator contract (thresholds that give the decisions, the SVM's result from Stage II);
#                     4: the Shokri SVMs score by calibrated log-odds


def compare_size(cfg: ExperimentConfig, so: SizeOutputs, labels: np.ndarray, log=print) -> dict[str, AttackResult]:
    """Every attack's result at one size: the tuned Shokri SVM's as Stage II published it
    (:func:`mia_repro.stage2.svm_result`), every other attack fit and judged here."""
    results = {ShokriSVM.name: svm_result(cfg, so, log)}
    others = {name: new_attack(name, cfg.attack, cfg.seed) for name in ATTACKS if name != ShokriSVM.name}
    results.update(evaluate_view(others, AttackerView.from_stage1(so, labels), so.target.member, cfg.seed, log=log))
    return results


def _paths(cfg: ExperimentConfig, so: SizeOutputs) -> tuple[Path, Path, str]:
    """``(marker, folder of score files, key)`` of one size's cache entries."""
    key = config_key(COMPARE_VERSION, STAGE2_VERSION, cfg.attack, cfg.outputs, cfg.seed, cfg.n_shadows, so.size,
                     so.fingerprint(), BOOTSTRAP, sorted(ATTACKS))
    base = cfg.output_dir / "compare" / f"n{so.size}-{key}"
    return base.with_suffix(".json"), base, key


def _check_blocks(blocks) -> None:
    if not isinstance(blocks, dict) or set(blocks) != set(ATTACKS):
        raise ValueError(f"attacks {sorted(blocks) if isinstance(blocks, dict) else blocks!r}, expected every one")
    if not all(isinstance(b, dict) and {"auc", "tpr_at_0.1pct_fpr", "ties", "per_class", "label", "threshold"} <= set(b)
               for b in blocks.values()):
        raise ValueError("an attack's block is incomplete")


def _key_of(key: str, name: str) -> str:
    """The key of one attack's score file: the size's key and the attack (so files cannot swap places)."""
    return f"{key}/{name}"


def _cached(marker: Path, store: Path, key: str, so: SizeOutputs, log) -> dict | None:
    """The cached blocks of one size if the marker and every attack's score file verify; None otherwise."""
    if not marker.exists():
        return None
    try:
        blocks = load_json(marker, key=key, check=_check_blocks)
        for name in ATTACKS:
            load_npz(store / f"{name}.npz", key=_key_of(key, name), check=target_scores_check(so, SCORE_ARRAYS))
        return blocks
    except CacheEntryError as exc:
        log(f"  cache entry not usable: {exc}; recomputing")
        return None


def run_compare(cfg: ExperimentConfig, log=print, figures: bool = True, sensitivity: bool = True) -> dict:
    """Run (or load from cache) the attack comparison for every size; write attacks.json, scores, figures and,
    with ``sensitivity``, the fixed SVM's (C, gamma) table (:mod:`mia_repro.svm_sensitivity`)."""
    start = time.perf_counter()
    stage1 = load_stage1(cfg)
    log(f"Attack comparison [{cfg.profile}]: sizes {list(cfg.sizes)}, {len(ATTACKS)} attacks, "
        f"{cfg.n_shadows} shadows as OUT references, population {cfg.outputs.population_size}")
    labels = None
    sizes = {}
    for size, so in stage1.items():
        t0 = time.perf_counter()
        marker, store, key = _paths(cfg, so)
        blocks = _cached(marker, store, key, so, log)
        if blocks is None:
            log(f"  n={size}:")
            if labels is None:
                labels = load_data(cfg)[1]  # the population records' classes (the attacker holds those records)
            results = compare_size(cfg, so, labels, log)
            for name, r in results.items():
                save_npz(store / f"{name}.npz", key=_key_of(key, name), **r.arrays())
            blocks = {name: r.block() for name, r in results.items()}
            save_json(marker, blocks, key=key)
            log(f"  n={size}: done in {time.perf_counter() - t0:.0f}s")
        else:
            log(f"  n={size}: cached")
        for name in ATTACKS:  # byte-for-byte copies of the verified entries: git stores one blob for both
            copy_file(store / f"{name}.npz", cfg.output_dir / "attack_scores" / f"{name}_{size}.npz")
        sizes[str(size)] = blocks
    result = {**stage1_meta(cfg, stage1), "compare_ran_on": machine_info(), "versions": versions(),
              "positive_class": "member", "bootstrap_resamples": BOOTSTRAP,
              "deterministic": cfg.deterministic, "outputs": to_dict(cfg.outputs),
              "wall_seconds_this_run": time.perf_counter() - start, "sizes": sizes,
              "seed_spread": spread_for(cfg, "attacks")}
    save_json(cfg.output_dir / "attacks.json", result)
    if sensitivity:
        from .svm_sensitivity import run_svm_sensitivity

        run_svm_sensitivity(cfg, stage1, stage1_meta(cfg, stage1), log)
    if figures:
        from .plots import compare_figures

        compare_figures(result, cfg.output_dir)
    log(f"Attack comparison done in {time.perf_counter() - start:.0f}s -> {cfg.output_dir / 'attacks.json'}")
    return result


def load_compare(cfg: ExperimentConfig) -> dict:
    """``attacks.json`` of ``cfg``'s results folder."""
    return load_json(cfg.output_dir / "attacks.json")
