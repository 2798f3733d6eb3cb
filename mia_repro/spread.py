"""The seed-to-seed spread of a metric, and where a single-seed result finds it.

``seeds.json`` (written by :func:`mia_repro.seeds.run_seeds`) holds, per size and metric, every seed's value
with mean, standard deviation (ddof 1) and range; :func:`spread_for` hands Stage II and the attack
comparison the part that matches their config, to embed beside their single-seed numbers.  Imports no stage.
"""
from __future__ import annotations

import numpy as np

from .config import ExperimentConfig

SPREAD_METRICS = ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "precision", "recall", "advantage_max")


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
    try:  # a file of the wrong shape is left out like a damaged one (the next --seeds run rewrites it)
        if seeds.get("profile") != cfg.profile or seeds.get("epochs") != cfg.model.epochs:
            return None
        sizes = {n: b for n, b in seeds["sizes"].items() if int(n) in cfg.sizes}
        if not sizes:
            return None
        if part == "summary":
            sizes = {n: {k: dict(b[k]) for k in ("target_train_acc", "target_test_acc", "svm")} for n, b in sizes.items()}
        else:
            sizes = {n: dict(b["attacks"]) for n, b in sizes.items()}
        return {"seeds": list(seeds["seeds"]), "source": "seeds/seeds.json", "sizes": sizes}
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
