"""Every stage's figures, drawn from what the stage wrote (its JSON and score files) into the run's folder.

The stages compute and write results; the command line (and ``make reproduce``'s notebooks) draw the
figures afterwards through here, so no computing stage imports matplotlib.
"""
from __future__ import annotations

from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.outputs import SizeOutputs
from mia_repro.experiment.provenance import stage1_meta
from mia_repro.reporting import compare_plots, mitigation_plots, stage1_plots, stage2_plots


def stage1(cfg: ExperimentConfig, outputs: dict[int, SizeOutputs]) -> None:
    """The Stage I figures of ``outputs`` (:func:`~mia_repro.experiment.stages.stage1.run_stage1`'s)."""
    stage1_plots.stage1_figures(outputs, stage1_meta(cfg, outputs), cfg.output_dir)


def stage2(cfg: ExperimentConfig, summary: dict) -> None:
    """The Stage II figures of ``summary.json`` and its score files."""
    stage2_plots.stage2_figures(summary, cfg.output_dir)


def compare(cfg: ExperimentConfig, result: dict) -> None:
    """The attack comparison's figures of ``attacks.json`` and its score files."""
    compare_plots.compare_figures(result, cfg.output_dir)


def mitigation(cfg: ExperimentConfig) -> None:
    """The mitigation figures of ``mitigation.json`` and ``mitigation_meta.json``."""
    from mia_repro.experiment.stages.mitigation import load_mitigation

    mitigation_plots.mitigation_figures(*load_mitigation(cfg), cfg.output_dir)


def seed_runs(cfg: ExperimentConfig, seeds: list[int]) -> None:
    """Every seed run's Stage I, Stage II and comparison figures, into its own folder."""
    from mia_repro.experiment.stages.compare import load_compare
    from mia_repro.experiment.stages.seeds import seed_config
    from mia_repro.experiment.stages.stage1 import load_stage1
    from mia_repro.experiment.stages.stage2 import load_summary

    for s in seeds:
        c = seed_config(cfg, s)
        stage1(c, load_stage1(c))
        stage2(c, load_summary(c))
        compare(c, load_compare(c))


def pool(cfg: ExperimentConfig, doc: dict) -> None:
    """The reference pool's figures of ``pool.json`` and ``pool_scores.npz`` (the gallery reads the pool's
    images from the dataset)."""
    from mia_repro.base.cache import load_npz
    from mia_repro.data.cifar10 import CLASS_NAMES
    from mia_repro.experiment.plan import load_data
    from mia_repro.reporting import pool_plots

    scores = load_npz(cfg.layout.pool_scores)
    x, _ = load_data(cfg)
    pool_plots.pool_figures(doc, scores, x[scores["pool_indices"]], CLASS_NAMES, cfg.output_dir)


def audit(cfg: ExperimentConfig) -> None:
    """The canary audit's figure of ``audit.json``."""
    from mia_repro.base.cache import load_json
    from mia_repro.reporting.audit_report import audit_figures

    audit_figures(load_json(cfg.layout.audit), cfg.output_dir)
