"""Several seeds of one experiment: the seed-to-seed spread beside every headline.

``run_seeds(cfg, seeds)`` runs Stage I, Stage II and the attack comparison once
per seed (the splits *and* the initialisations change with it).  Every seed's
Stage I models share ``<output_dir>/stage1`` (their cache keys include the
seed, so the profile's own seed reuses the main run's models); each seed's
summary, scores and ``attacks.json`` go to ``<output_dir>/seeds/seed<k>/``.
``seeds.json`` beside them holds, per size and metric, the value of every seed
with their mean, standard deviation (ddof 1) and range.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .cache import save_json
from .config import ExperimentConfig
from .report import run_meta

SPREAD_METRICS = ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "precision", "recall", "advantage_max")


def seed_config(cfg: ExperimentConfig, seed: int) -> ExperimentConfig:
    """``cfg`` for one seed: its own outputs folder, the shared Stage I cache."""
    return dataclasses.replace(cfg, seed=seed, results_dir=str(cfg.output_dir / "seeds" / f"seed{seed}"),
                               stage1_dir=str(cfg.stage1_root))


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


def run_seeds(cfg: ExperimentConfig, seeds: list[int], verbose: int = 0, log=print) -> dict:
    """Run Stage I, Stage II and the comparison for every seed; write and return ``seeds.json``."""
    from .compare import run_compare
    from .stage1 import run_stage1
    from .stage2 import run_stage2

    if len(set(seeds)) != len(seeds) or len(seeds) < 2:
        raise ValueError(f"--seeds needs at least two different seeds, got {seeds}")
    start = time.perf_counter()
    summaries, comparisons = {}, {}
    for s in seeds:
        c = seed_config(cfg, s)
        log(f"=== seed {s} -> {c.output_dir}")
        run_stage1(c, verbose=verbose, log=log)
        summaries[s] = run_stage2(c, log=log)
        comparisons[s] = run_compare(c, log=log)
    result = {**run_meta(cfg), "seeds": list(seeds), "deterministic": cfg.deterministic,
              "what_changes_with_the_seed": "the member/non-member splits, the shadows' records and every model's init",
              "wall_seconds_this_run": time.perf_counter() - start, "sizes": aggregate(summaries, comparisons)}
    del result["seed"]
    save_json(cfg.output_dir / "seeds" / "seeds.json", result)
    log(f"Seeds {seeds} done in {time.perf_counter() - start:.0f}s -> {cfg.output_dir / 'seeds' / 'seeds.json'}")
    return result


def spread_for(cfg: ExperimentConfig, part: str) -> dict | None:
    """The spread that ``seeds/seeds.json`` holds for ``cfg``'s sizes, for embedding beside single-seed numbers.

    ``part`` "summary": target accuracies and the Stage II SVM; "attacks": every compared attack.  None when no
    seed run exists (or it covers none of the sizes, or was made with other settings than ``cfg``'s profile).
    """
    path = cfg.output_dir / "seeds" / "seeds.json"
    if not path.exists():
        return None
    from .cache import load_json

    try:
        seeds = load_json(path)
    except Exception:  # a damaged seeds.json is left out, not fatal: it is rewritten by the next --seeds run
        return None
    if seeds.get("profile") != cfg.profile or seeds.get("epochs") != cfg.model.epochs:
        return None
    sizes = {n: b for n, b in seeds["sizes"].items() if int(n) in cfg.sizes}
    if not sizes:
        return None
    if part == "summary":
        sizes = {n: {k: b[k] for k in ("target_train_acc", "target_test_acc", "svm")} for n, b in sizes.items()}
    else:
        sizes = {n: b["attacks"] for n, b in sizes.items()}
    return {"seeds": seeds["seeds"], "source": "seeds/seeds.json", "sizes": sizes}
