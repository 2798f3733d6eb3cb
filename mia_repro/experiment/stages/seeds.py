"""Several seeds of one experiment: the seed-to-seed spread beside every headline.

``run_seeds(cfg, seeds)`` runs Stage I, Stage II and the attack comparison once
per seed (the splits *and* the initialisations change with it).  Every seed's
Stage I models share the profile's Stage I folder (their cache keys include
the seed, so the profile's own seed reuses the main run's models); each seed's
summary, scores and ``attacks.json`` go to ``<seeds_dir>/seed<k>/``
(:attr:`Layout.seeds_dir <mia_repro.experiment.layout.Layout.seeds_dir>`: ``results/<profile>/seeds``
for the profile on some of its sizes).
``seeds.json`` beside them holds, per size and metric, the value of every seed
with their mean, standard deviation (ddof 1) and range.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from mia_repro.experiment.lock import exclusive
from mia_repro.base.cache import save_json
from mia_repro.experiment.stages.compare import run_compare
from mia_repro.base.errors import ConfigError
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.provenance import run_meta
from mia_repro.experiment.stages.stage1 import run_stage1
from mia_repro.experiment.stages.stage2 import run_stage2
from mia_repro.evaluation.metrics import Metric


SPREAD_METRICS = (Metric.AUC, Metric.TPR_AT_1PCT_FPR, Metric.TPR_AT_0_1PCT_FPR, Metric.PRECISION, Metric.RECALL, Metric.ADVANTAGE_MAX)


def spread(values: list[float]) -> dict:
    """``{"values", "mean", "std", "min", "max"}`` of one metric over seeds (std with ddof 1)."""
    v = np.asarray(values, dtype=np.float64)
    return {"values": v.tolist(), "mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max())}


def aggregate(summaries: dict[int, dict], comparisons: dict[int, dict]) -> dict:
    """Per size: target accuracy, the Stage II SVM and every compared attack, as :func:`spread` over seeds."""
    seeds = sorted(summaries)
    out = {}
    for n in summaries[seeds[0]]["sizes"]:
        blocks = [summaries[s]["sizes"][n] for s in seeds]
        size = {"target_train_acc": spread([b["target"]["train_acc"] for b in blocks]),
                "target_test_acc": spread([b["target"]["test_acc"] for b in blocks]),
                "svm": {m: spread([b["attack"][m] for b in blocks]) for m in SPREAD_METRICS}}
        attacks = comparisons[seeds[0]]["sizes"][n]
        size["attacks"] = {a: {m: spread([comparisons[s]["sizes"][n][a][m] for s in seeds]) for m in SPREAD_METRICS}
                           for a in attacks}
        out[n] = size
    return out


def seed_config(cfg: ExperimentConfig, seed: int) -> ExperimentConfig:
    """``cfg`` for one seed: its own outputs folder, the shared Stage I cache."""
    return dataclasses.replace(cfg, seed=seed, results_dir=str(cfg.layout.seed_run(seed)),
                               stage1_dir=str(cfg.layout.stage1_root))


@exclusive
def run_seeds(cfg: ExperimentConfig, seeds: list[int], verbose: int = 0, log=print) -> dict:
    """Run Stage I, Stage II and the comparison for every seed; write and return ``seeds.json``."""
    if len(set(seeds)) != len(seeds) or len(seeds) < 2:
        raise ConfigError(f"seeds: needs at least two different seeds, got {seeds}")
    configs = {s: seed_config(cfg, s) for s in seeds}  # every seed validated before the first one runs
    start = time.perf_counter()
    summaries, comparisons = {}, {}
    for s in seeds:
        c = configs[s]
        log(f"=== seed {s} -> {c.output_dir}")
        run_stage1(c, verbose=verbose, log=log)
        summaries[s] = run_stage2(c, log=log)
        comparisons[s] = run_compare(c, log=log)
    result = {**run_meta(cfg), "seeds": list(seeds), "deterministic": cfg.deterministic,
              "what_changes_with_the_seed": "the member/non-member splits, the shadows' records and every model's init",
              "wall_seconds_this_run": time.perf_counter() - start, "sizes": aggregate(summaries, comparisons)}
    del result["seed"]
    save_json(cfg.layout.seeds, result)
    log(f"Seeds {seeds} done in {time.perf_counter() - start:.0f}s -> {cfg.layout.seeds}")
    return result


