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
  (:func:`~mia_repro.evaluation.metrics.score_ties`), per-class precision / recall / AUC,
  and the fit time;
* ``attack_scores/<attack>_<n>.npz`` — ``member``, ``true_class``, ``score``,
  ``threshold``, ``pred`` per target record (``pred == score >= threshold``), so every number recomputes;
* ``svm_sensitivity.json`` (:mod:`mia_repro.experiment.stages.svm_sensitivity`): the untuned SVM at a few (C, gamma) pairs.

Cached per size in the store (:mod:`mia_repro.experiment.store`, names from
:class:`~mia_repro.experiment.layout.Layout`); the key hashes the attack and
output settings, the seed and the Stage I fingerprint.  The public score files are
byte-for-byte copies of the cached ones.
"""
from __future__ import annotations

import time

import numpy as np

from mia_repro.experiment.lock import exclusive
from mia_repro.attacks import AttackerView, ShokriSVM, new_attack
from mia_repro.base.cache import copy_file, load_json, save_json
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.keys import to_dict
from mia_repro.experiment.keys import config_key
from mia_repro.evaluation.evaluate import BOOTSTRAP, evaluate_view
from mia_repro.evaluation.results import SCORE_ARRAYS, AttackResult
from mia_repro.experiment.outputs import SizeOutputs
from mia_repro.experiment.plan import load_data
from mia_repro.experiment.stages.stage1 import load_stage1
from mia_repro.experiment.provenance import computed_on, stage1_meta, versions
from mia_repro.experiment.stages.stage2 import STAGE2_VERSION, svm_result, target_scores_check
from mia_repro.experiment.store import Part, get_or_compute
from mia_repro.experiment.stages.svm_sensitivity import run_svm_sensitivity
from mia_repro.training import machine_info
from mia_repro.evaluation.metrics import Metric

COMPARE_VERSION = 4  # 3: one estimator contract (thresholds that give the decisions, the SVM's result from Stage II);
#                     4: the Shokri SVMs score by calibrated log-odds


def compare_size(cfg: ExperimentConfig, so: SizeOutputs, labels: np.ndarray, log=print) -> dict[str, AttackResult]:
    """Every attack's result at one size: the tuned Shokri SVM's as Stage II published it
    (:func:`mia_repro.experiment.stages.stage2.svm_result`), every other attack fit and judged here."""
    names = cfg.compared_attacks
    results = {ShokriSVM.name: svm_result(cfg, so, log)} if ShokriSVM.name in names else {}
    others = {name: new_attack(name, cfg.attack, cfg.seed) for name in names if name != ShokriSVM.name}
    results.update(evaluate_view(others, AttackerView.from_stage1(so, labels), so.target.member, cfg.seed, log=log))
    return results


def _entry(cfg: ExperimentConfig, so: SizeOutputs) -> dict[str, Part]:
    """The cache entry of one size: every attack's score file, then the blocks (the marker).  The key
    hashes the attack and output settings, the seed, the Stage I fingerprint and the attacks compared;
    each score file's key adds its attack's name (so files cannot swap places)."""
    key = config_key(COMPARE_VERSION, STAGE2_VERSION, cfg.attack, cfg.outputs, cfg.seed, cfg.n_shadows, so.size,
                     so.fingerprint(), BOOTSTRAP, sorted(cfg.compared_attacks))
    layout, check = cfg.layout, target_scores_check(so, SCORE_ARRAYS)
    parts = {name: Part(layout.compare_scores(so.size, key, name), f"{key}/{name}", "npz", check)
             for name in cfg.compared_attacks}
    parts[BLOCKS] = Part(layout.compare_blocks(so.size, key), key, "json", _blocks_check(cfg.compared_attacks))
    return parts


BLOCKS = "blocks"  # the marker part's name (no attack has it)


def _consistent(entry: dict) -> None:
    """Every attack's published block re-derived from its score file (:func:`mia_repro.evaluation.metrics.check_published`)."""
    from mia_repro.evaluation.metrics import check_published

    for name in entry[BLOCKS]:
        try:
            check_published(entry[BLOCKS][name], entry[name])
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None


def _blocks_check(names: tuple[str, ...]):
    """The check of a cached blocks file: exactly the attacks ``names``, each block complete."""
    def check(blocks) -> None:
        if not isinstance(blocks, dict) or set(blocks) != set(names):
            raise ValueError(f"attacks {sorted(blocks) if isinstance(blocks, dict) else blocks!r}, "
                             f"expected {sorted(names)}")
        if not all(isinstance(b, dict) and {Metric.AUC, Metric.TPR_AT_0_1PCT_FPR, "ties", "per_class", "label", "threshold"}
                   <= set(b) for b in blocks.values()):
            raise ValueError("an attack's block is incomplete")
    return check


@exclusive
def run_compare(cfg: ExperimentConfig, log=print, sensitivity: bool = True) -> dict:
    """Run (or load from cache) the attack comparison for every size; write ``attacks.json``, the score files
    and, with ``sensitivity``, the fixed SVM's (C, gamma) table (:mod:`mia_repro.experiment.stages.svm_sensitivity`)."""
    start = time.perf_counter()
    stage1 = load_stage1(cfg)
    log(f"Attack comparison [{cfg.profile}]: sizes {list(cfg.sizes)}, {len(cfg.compared_attacks)} attacks, "
        f"{cfg.n_shadows} shadows as OUT references, population {cfg.outputs.population_size}")
    labels = []  # the population records' classes (the attacker holds those records), read once if needed
    sizes = {}
    for size, so in stage1.items():
        t0 = time.perf_counter()

        def compute() -> dict:
            log(f"  n={size}:")
            if not labels:
                labels.append(load_data(cfg)[1])
            results = compare_size(cfg, so, labels[0], log)
            ran_on = machine_info()
            return {**{name: r.arrays() for name, r in results.items()},
                    BLOCKS: {name: {**r.block(), "ran_on": ran_on} for name, r in results.items()}}

        parts = _entry(cfg, so)
        entry, cached = get_or_compute(parts, compute, log, check=_consistent)
        log(f"  n={size}: cached" if cached else f"  n={size}: done in {time.perf_counter() - t0:.0f}s")
        for name in cfg.compared_attacks:  # byte-for-byte copies of the verified entries: git stores one blob for both
            copy_file(parts[name].path, cfg.layout.compared_scores(name, size))
        sizes[str(size)] = entry[BLOCKS]
    ran_on = computed_on([b.get("ran_on") for blocks in sizes.values() for b in blocks.values()])
    result = {**stage1_meta(cfg, stage1), "compare_ran_on": ran_on, "versions": versions(),
              "positive_class": "member", "bootstrap_resamples": BOOTSTRAP,
              "deterministic": cfg.deterministic, "outputs": to_dict(cfg.outputs),
              "wall_seconds_this_run": time.perf_counter() - start, "sizes": sizes}
    save_json(cfg.layout.attacks, result)
    if sensitivity and "shokri_svm_fixed" in cfg.compared_attacks:
        run_svm_sensitivity(cfg, stage1, stage1_meta(cfg, stage1), log)
    log(f"Attack comparison done in {time.perf_counter() - start:.0f}s -> {cfg.layout.attacks}")
    return result


def load_compare(cfg: ExperimentConfig) -> dict:
    """``attacks.json`` of ``cfg``'s results folder."""
    return load_json(cfg.layout.attacks)
