"""The seed-to-seed spread of a metric, and where a single-seed result finds it.

``seeds.json`` (written by :func:`mia_repro.experiment.stages.seeds.run_seeds`) holds, per size and metric, every seed's value
with mean, standard deviation (ddof 1) and range; :func:`spread_for` gives the tables
(:mod:`mia_repro.reporting.tables`) the part that matches a config, to show beside its single-seed numbers.
The stages never read it: their files do not depend on whether a seed run came first.
"""
from __future__ import annotations

from mia_repro.experiment.config import ExperimentConfig


def _check_seeds(seeds) -> None:
    """``seeds.json``'s shape: seeds, and per size the target accuracies, the SVM and every attack as spreads."""
    def is_spread(sp) -> bool:
        return isinstance(sp, dict) and {"values", "mean", "std", "min", "max"} <= set(sp)

    if not isinstance(seeds, dict) or not isinstance(seeds.get("seeds"), list) or not isinstance(seeds.get("sizes"), dict):
        raise ValueError("expected seeds and sizes")
    for n, b in seeds["sizes"].items():
        int(n)
        ok = (isinstance(b, dict) and is_spread(b.get("target_train_acc")) and is_spread(b.get("target_test_acc"))
              and isinstance(b.get("svm"), dict) and all(is_spread(v) for v in b["svm"].values())
              and isinstance(b.get("attacks"), dict)
              and all(isinstance(a, dict) and all(is_spread(v) for v in a.values()) for a in b["attacks"].values()))
        if not ok:
            raise ValueError(f"size {n}: not the spreads of a seed run")


def load_seeds(cfg: ExperimentConfig) -> dict | None:
    """``seeds/seeds.json`` of ``cfg``'s results folder if a seed run wrote it and it has the right shape;
    None otherwise (absent, damaged or of another shape: left out, rewritten by the next ``--seeds`` run)."""
    from mia_repro.base.cache import load_json

    path = cfg.layout.seeds
    try:
        seeds = load_json(path)
        _check_seeds(seeds)
        return seeds
    except (OSError, ValueError):
        return None


def spread_for(cfg: ExperimentConfig, part: str) -> dict | None:
    """The spread that ``seeds/seeds.json`` holds for ``cfg``'s sizes, for showing beside single-seed numbers.

    ``part`` "summary": target accuracies and the Stage II SVM; "attacks": every compared attack.  None when no
    seed run exists (or it is damaged or of another shape, covers none of the sizes, or was made with other
    settings than ``cfg``'s profile).
    """
    seeds = load_seeds(cfg)
    if seeds is None or seeds.get("profile") != cfg.profile or seeds.get("epochs") != cfg.model.epochs:
        return None
    sizes = {n: b for n, b in seeds["sizes"].items() if int(n) in cfg.sizes}
    if not sizes:
        return None
    if part == "summary":
        sizes = {n: {k: b[k] for k in ("target_train_acc", "target_test_acc", "svm")} for n, b in sizes.items()}
    else:
        sizes = {n: b["attacks"] for n, b in sizes.items()}
    return {"seeds": seeds["seeds"], "source": "seeds/seeds.json", "sizes": sizes}
