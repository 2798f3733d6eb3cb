"""The attack comparison: every attack of :mod:`mia_repro.attacks` on the same target, judged at low FPR.

For each size, the attacks are fit on what the attacker has (the Stage I
outputs of the shadows, their reference outputs on the target's records and
the population sample; Shokri's SVMs are Stage II's) and scored on the
target's 2n records.  Writes under ``results/<profile>/``:

* ``attacks.json`` — provenance, then per size and attack: AUC, balanced
  accuracy, precision, recall, TPR at 1%, 0.1% and 0% FPR with seeded bootstrap
  95% intervals, the number of non-members behind them, both advantages, the
  threshold, the paper and equation implemented, the variant's ``label``,
  what the attack chose on the attacker's data (``info``: e.g. RMIA's ``a``
  and ``gamma`` with every simulated AUC), the ties in its scores
  (:func:`~mia_repro.metrics.score_ties`), per-class precision / recall / AUC,
  and the fit time;
* ``attack_scores/<attack>_<n>.npz`` — ``member``, ``true_class``, ``score``,
  ``pred`` per target record, so every number recomputes;
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
from .metrics import attack_metrics, metrics_by_class, score_ties
from .spread import spread_for
from .stage1 import SizeOutputs, load_data, load_stage1, stage1_meta
from .stage2 import BOOTSTRAP, load_attack, target_scores_check, versions
from .training import machine_info

COMPARE_VERSION = 2  # bump when an attack's code changes what it computes
SCORE_FIELDS = ("member", "true_class", "score", "pred")


def build_attacks(cfg: ExperimentConfig, so: SizeOutputs) -> dict:
    """One unfitted instance of every attack; the tuned Shokri SVM carries Stage II's fitted SVMs."""
    out = {name: new_attack(name, cfg.attack, cfg.seed) for name in ATTACKS}
    out[ShokriSVM.name].svm = load_attack(cfg, so)
    return out


def compare_size(cfg: ExperimentConfig, so: SizeOutputs, labels: np.ndarray, log=print) -> tuple[dict, dict]:
    """Fit and evaluate every attack at one size; returns ``(blocks, {attack: score arrays})``."""
    return evaluate_attacks(build_attacks(cfg, so), so, labels, cfg.seed, log)


def evaluate_attacks(attacks: dict, so: SizeOutputs, labels: np.ndarray, seed: int, log=print) -> tuple[dict, dict]:
    """:func:`evaluate_view` on the attacker's view of ``so`` (its shadows are the reference models) against
    its target's membership."""
    return evaluate_view(attacks, AttackerView.from_stage1(so, labels), so.target.member, seed, log=log)


def evaluate_view(attacks: dict, view: AttackerView, member: np.ndarray, seed: int, bootstrap: int = BOOTSTRAP,
                  log=print) -> tuple[dict, dict]:
    """Fit each of ``attacks`` on ``view``, score the target's records and judge them against ``member`` bool
    (N,); returns ``(blocks, {attack: score arrays})`` (the blocks of ``attacks.json``; the arrays ``member``,
    ``true_class``, ``score``, ``pred``).

    The target's membership labels are used only here, to evaluate, after
    each attack has produced its scores and decisions from the view.
    """
    member = np.asarray(member, dtype=bool)
    blocks, arrays = {}, {}
    for name, attack in attacks.items():
        t0 = time.perf_counter()
        attack.fit(view)
        score, pred = attack.score(view), attack.predict(view)
        seconds = time.perf_counter() - t0
        blocks[name] = {"label": attack.label, "paper": attack.paper, "threshold": float(attack.threshold),
                        "seconds": seconds, "info": attack.info,
                        **attack_metrics(member, score, pred, bootstrap=bootstrap, seed=seed),
                        "ties": score_ties(member, score),
                        "per_class": metrics_by_class(member, view.true_class, score, pred,
                                                      view.target_logits.shape[1])}
        arrays[name] = {"member": member, "true_class": view.true_class,
                        "score": np.asarray(score, np.float64), "pred": np.asarray(pred, np.int64)}
        b = blocks[name]
        log(f"    {name:22s} AUC {b['auc']:.3f}  TPR@1%FPR {b['tpr_at_1pct_fpr']:.4f}  "
            f"TPR@0.1%FPR {b['tpr_at_0.1pct_fpr']:.4f}  ({seconds:.1f}s)")
    return blocks, arrays


def _paths(cfg: ExperimentConfig, so: SizeOutputs) -> tuple[Path, Path, str]:
    """``(marker, folder of score files, key)`` of one size's cache entries."""
    key = config_key(COMPARE_VERSION, cfg.attack, cfg.outputs, cfg.seed, cfg.n_shadows, so.size, so.fingerprint(),
                     BOOTSTRAP, sorted(ATTACKS))
    base = cfg.output_dir / "compare" / f"n{so.size}-{key}"
    return base.with_suffix(".json"), base, key


def _check_blocks(blocks) -> None:
    if not isinstance(blocks, dict) or set(blocks) != set(ATTACKS):
        raise ValueError(f"attacks {sorted(blocks) if isinstance(blocks, dict) else blocks!r}, expected every one")
    if not all(isinstance(b, dict) and {"auc", "tpr_at_0.1pct_fpr", "ties", "per_class", "label"} <= set(b)
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
            load_npz(store / f"{name}.npz", key=_key_of(key, name), check=target_scores_check(so, SCORE_FIELDS))
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
            blocks, arrays = compare_size(cfg, so, labels, log)
            for name, a in arrays.items():
                save_npz(store / f"{name}.npz", key=_key_of(key, name), **a)
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
