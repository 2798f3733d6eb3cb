"""Several seeds of one experiment: the seed-to-seed spread beside every headline.

``run_seeds(cfg, seeds)`` runs Stage I, Stage II and the attack comparison once
per seed (the splits *and* the initialisations change with it).  Every seed's
Stage I models share the profile's Stage I folder (their cache keys include
the seed, so the profile's own seed reuses the main run's models); each seed's
summary, scores and ``attacks.json`` go to ``<seeds_dir>/seed<k>/``
(:attr:`~mia_repro.config.ExperimentConfig.seeds_dir`: ``results/<profile>/seeds``
for the profile on some of its sizes).
``seeds.json`` beside them holds, per size and metric, the value of every seed
with their mean, standard deviation (ddof 1) and range.
"""
from __future__ import annotations

import dataclasses
import time

from .cache import save_json
from .compare import run_compare
from .config import ConfigError, ExperimentConfig
from .report import run_meta
from .spread import aggregate
from .stage1 import run_stage1
from .stage2 import run_stage2


def seed_config(cfg: ExperimentConfig, seed: int) -> ExperimentConfig:
    """``cfg`` for one seed: its own outputs folder, the shared Stage I cache."""
    return dataclasses.replace(cfg, seed=seed, results_dir=str(cfg.seeds_dir / f"seed{seed}"),
                               stage1_dir=str(cfg.stage1_root))


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
    save_json(cfg.seeds_dir / "seeds.json", result)
    log(f"Seeds {seeds} done in {time.perf_counter() - start:.0f}s -> {cfg.seeds_dir / 'seeds.json'}")
    return result


