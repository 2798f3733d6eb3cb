"""Tables for notebooks and the README, as ``pandas.DataFrame`` built from stage outputs.

:func:`run_meta` (from :mod:`mia_repro.experiment.provenance`) is here too: the provenance block (profile,
sizes, epochs, shadows, backend, seed) that every JSON output and figure carries.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from mia_repro.experiment.config import ExperimentConfig
from mia_repro.base.moved import names_moved
from mia_repro.data.cifar10 import CLASS_NAMES
from mia_repro.experiment.provenance import run_meta  # noqa: F401 (the notebooks' provenance block)
from mia_repro.evaluation.metrics import Metric


def config_table(cfg: ExperimentConfig) -> pd.DataFrame:
    """Every setting of ``cfg`` as (section, field, value) rows."""
    rows = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            rows += [(f.name, g.name, getattr(value, g.name)) for g in dataclasses.fields(value)]
        else:
            rows.append(("experiment", f.name, value))
    return pd.DataFrame(rows, columns=["section", "field", "value"]).astype({"value": str})


def dataset_table(y: np.ndarray) -> pd.DataFrame:
    """Records per class of the pooled dataset (``y`` int (N,))."""
    counts = np.bincount(y, minlength=len(CLASS_NAMES))
    return pd.DataFrame({"class": CLASS_NAMES, "records": counts})


def splits_table(splits_by_size: dict) -> pd.DataFrame:
    """Per size: record counts and the disjointness checks of :func:`mia_repro.data.splits.make_splits`."""
    rows = []
    for size, s in splits_by_size.items():
        target = np.concatenate([s.target.members, s.target.nonmembers])
        shadow_all = np.concatenate([np.concatenate([sh.members, sh.nonmembers]) for sh in s.shadows]) if s.shadows else np.array([], int)
        rows.append({
            "size n": size,
            "target members": len(s.target.members),
            "target non-members": len(s.target.nonmembers),
            "shadow pool": len(s.pool),
            "shadows": len(s.shadows),
            "shadow ∩ target": int(np.intersect1d(shadow_all, target).size),
            "distinct shadow records": int(np.unique(shadow_all).size),
        })
    return pd.DataFrame(rows)


def stage1_table(stage1: dict) -> pd.DataFrame:
    """One row per trained model: size, model, train/test accuracy, gap, seconds, trainer."""
    rows = []
    for size, so in sorted(stage1.items()):
        for m in [so.target, *so.shadows]:
            rows.append({"size n": size, "model": m.name, "train acc": m.train_acc, "test acc": m.test_acc,
                         "gap": m.train_acc - m.test_acc, "seconds": m.seconds, "trainer": m.trainer})
    return pd.DataFrame(rows)


def _seed_sd(spread: dict | None, n: str, *path: str) -> dict:
    """The seed-to-seed standard deviation columns of one row from :func:`~mia_repro.reporting.spread.spread_for`'s
    ``spread`` (none without a seed run covering size ``n``)."""
    block = (spread or {}).get("sizes", {}).get(str(n))
    for p in path:
        block = (block or {}).get(p)
    if not block:
        return {}
    seeds = len(spread["seeds"])
    return {f"AUC sd ({seeds} seeds)": block["auc"]["std"],
            f"TPR@0.1%FPR sd ({seeds} seeds)": block[Metric.TPR_AT_0_1PCT_FPR]["std"]}


def attack_table(summary: dict, spread: dict | None = None) -> pd.DataFrame:
    """Per size: target accuracy, SVM attack metrics and the threshold baseline's; with ``spread``
    (:func:`~mia_repro.reporting.spread.spread_for` ``(cfg, "summary")``) the SVM's seed-to-seed spread."""
    rows = []
    for n, b in summary["sizes"].items():
        a, t = b["attack"], b["baseline"]
        rows.append({
            "size n": int(n), "target train acc": b["target"]["train_acc"], "target test acc": b["target"]["test_acc"],
            "SVM precision": a["precision"], "SVM recall": a["recall"], "SVM accuracy": a["accuracy"],
            "SVM AUC": a[Metric.AUC], "SVM TPR@1%FPR": a[Metric.TPR_AT_1PCT_FPR], "SVM TPR@0.1%FPR": a[Metric.TPR_AT_0_1PCT_FPR],
            "threshold precision": t["precision"], "threshold recall": t["recall"],
            "threshold accuracy": t["accuracy"], "threshold AUC": t["auc"],
            "grid edge hits": a.get("grid_edge_hits", 0), **_seed_sd(spread, n, "svm"),
        })
    return pd.DataFrame(rows)


def per_class_table(summary: dict, size: int | str) -> pd.DataFrame:
    """Per class of one size: SVM precision/recall/accuracy/AUC, chosen C and gamma, edge hit."""
    pc = summary["sizes"][str(size)]["attack"]["per_class"]
    cols = {k: pc[k] for k in ("precision", "recall", "accuracy", "auc", "C", "gamma", "edge_hit") if k in pc}
    return pd.DataFrame({"class": CLASS_NAMES, **cols})


def ablation_table(rows: list[dict]) -> pd.DataFrame:
    """The rows of :func:`mia_repro.experiment.stages.stage2.subsample_ablation`, with the change vs the first row."""
    df = pd.DataFrame(rows)
    for k in ("precision", "auc"):
        df[f"Δ{k} vs first"] = df[k] - df[k].iloc[0]
    return df.round(4)


def markdown_results(summary: dict) -> str:
    """The README's results table for one ``summary.json``: per size, target accuracy and attack metrics.

    AUC is the calibrated pooled AUC (the headline); "raw" pools the per-class
    decision values as they are; advantages: at the attack's decision / the
    maximum over thresholds.
    """
    head = ("| size n | target train acc | target test acc | SVM precision | SVM recall | SVM AUC (raw pooled, mean per class) "
            "| advantage at decision / max | SVM TPR@0.1%FPR [95% CI] | threshold precision | threshold AUC |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for n, b in summary["sizes"].items():
        a, t = b["attack"], b["baseline"]
        lines.append(f"| {int(n):,} | {b['target']['train_acc']:.3f} | {b['target']['test_acc']:.3f} | {a['precision']:.3f} "
                     f"| {a['recall']:.3f} | {a['auc']:.3f} ({a['auc_raw_pooled']:.3f}, {a['auc_mean_per_class']:.3f}) "
                     f"| {a[Metric.ADVANTAGE_AT_DECISION]:.3f} / {a[Metric.ADVANTAGE_MAX]:.3f} "
                     f"| {a[Metric.TPR_AT_0_1PCT_FPR]:.4f} {_ci(a, Metric.TPR_AT_0_1PCT_FPR)} | {t['precision']:.3f} | {t['auc']:.3f} |")
    return "\n".join(lines)


def difference_range(summary: dict, key: str, scale: float = 100.0) -> str:
    """``"+a to +b"``: the range over sizes of the SVM's ``key`` minus the threshold baseline's, from unrounded values.

    ``scale`` 100 gives points (percentage points for precision, AUC points).
    """
    diffs = [scale * (b["attack"][key] - b["baseline"][key]) for b in summary["sizes"].values()]
    return f"{min(diffs):+.2f} to {max(diffs):+.2f}"


def _ci(block: dict, key: str) -> str:
    lo, hi = block.get(f"{key}_ci95", [np.nan, np.nan])
    return f"[{lo:.4f}, {hi:.4f}]"


def seed_table(seeds: dict) -> pd.DataFrame:
    """``seeds.json`` as rows (size, what, metric): every seed's value, mean, std and range."""
    rows = []
    for n, block in seeds["sizes"].items():
        for what in ("target_train_acc", "target_test_acc"):
            rows.append({"size n": int(n), "what": "target", "metric": what, **_spread_cols(block[what])})
        for metric, sp in block["svm"].items():
            rows.append({"size n": int(n), "what": "Stage II SVM", "metric": metric, **_spread_cols(sp)})
        for attack, metrics in block["attacks"].items():
            for metric, sp in metrics.items():
                rows.append({"size n": int(n), "what": attack, "metric": metric, **_spread_cols(sp)})
    return pd.DataFrame(rows)


def _spread_cols(sp: dict) -> dict:
    return {"values": ", ".join(f"{v:.4f}" for v in sp["values"]), "mean": sp["mean"], "std": sp["std"],
            "min": sp["min"], "max": sp["max"]}


def markdown_seeds(seeds: dict, size: int | str) -> str:
    """The README's seed-spread table of one size: each seed's value and mean ± std (ddof 1)."""
    block = seeds["sizes"][str(size)]
    ids = ", ".join(str(s) for s in seeds["seeds"])

    def cell(sp: dict, digits: int = 3) -> str:
        vals = " / ".join(f"{v:.{digits}f}" for v in sp["values"])
        return f"{vals} | {sp['mean']:.{digits}f} ± {sp['std']:.{digits}f}"

    lines = [f"| n = {int(size):,}, seeds {ids} | values | mean ± std |", "|---|---|---|",
             f"| target train acc | {cell(block['target_train_acc'])} |",
             f"| target test acc | {cell(block['target_test_acc'])} |"]  # Stage II's SVM is the shokri_svm row
    for name, m in block["attacks"].items():
        lines.append(f"| {name} AUC | {cell(m['auc'])} |")
        lines.append(f"| {name} TPR@1%FPR | {cell(m[Metric.TPR_AT_1PCT_FPR], 4)} |")
        lines.append(f"| {name} TPR@0.1%FPR | {cell(m[Metric.TPR_AT_0_1PCT_FPR], 4)} |")
    return "\n".join(lines)


#: Shokri et al. (S&P 2017), Fig. 4, CIFAR-10: median over the ten classes of the attack's precision, per
#: training size (read from the figure). The paper also reports recall close to 1 at every size and a target
#: test accuracy of about 0.6 at 15,000 records (its CNN trains for at most 100 epochs); it gives no AUC or
#: low-FPR figure.
PAPER_FIG4_MEDIAN_PRECISION = {2500: 0.78, 5000: 0.74, 10000: 0.72, 15000: 0.71}


PAPER_TEST_ACC = {15000: 0.6}


def paper_comparison_table(summaries: dict[str, dict], comparisons: dict[str, dict] | None = None) -> pd.DataFrame:
    """Per size, the paper's Fig. 4 values beside each run's: one row per (size, source).

    ``summaries``: ``{label: summary.json}`` (e.g. ``{"paper": ..., "quick": ...}``); each run gives the
    target's train/test accuracy, the SVM attack's median and pooled per-class precision, median
    per-class recall and calibrated pooled AUC. ``comparisons`` (``{label: attacks.json}``, optional) adds
    the untuned SVM's (``shokri_svm_fixed``) median class precision. The paper's row has NaN where it
    reports nothing.
    """
    comparisons = comparisons or {}
    sizes = sorted({int(n) for s in summaries.values() for n in s["sizes"]} | set(PAPER_FIG4_MEDIAN_PRECISION))
    rows = []
    for n in sizes:
        rows.append({"size n": n, "source": "Shokri et al. Fig. 4", "epochs": "≤100",
                     "target train acc": np.nan, "target test acc": PAPER_TEST_ACC.get(n, np.nan),
                     "median class precision": PAPER_FIG4_MEDIAN_PRECISION.get(n, np.nan),
                     "pooled precision": np.nan, "median class recall": 1.0, "AUC": np.nan})
        for label, s in summaries.items():
            b = s["sizes"].get(str(n))
            if b is None:
                continue
            a = b["attack"]
            fixed = comparisons.get(label, {}).get("sizes", {}).get(str(n), {}).get("shokri_svm_fixed")
            rows.append({"size n": n, "source": label, "epochs": s["epochs"],
                         "target train acc": b["target"]["train_acc"], "target test acc": b["target"]["test_acc"],
                         "median class precision": float(np.median(a["per_class"]["precision"])),
                         "pooled precision": a["precision"],
                         "median class recall": float(np.median(a["per_class"]["recall"])), "AUC": a["auc"],
                         "fixed SVM median class precision": float(np.nanmedian(fixed["per_class"]["precision"]))
                         if fixed else np.nan})
    return pd.DataFrame(rows)


def markdown_paper_comparison(summaries: dict[str, dict], comparisons: dict[str, dict] | None = None) -> str:
    """The README's paper-vs-runs table (:func:`paper_comparison_table`): "—" where a source reports nothing,
    "≈" on the paper's values that it gives only roughly (recall, test accuracy)."""
    cols = ["target train acc", "target test acc", "median class precision", "fixed SVM median class precision",
            "pooled precision", "median class recall", "AUC"]
    lines = ["| n | source | epochs | " + " | ".join(cols) + " |", "|---" * (len(cols) + 3) + "|"]
    for r in paper_comparison_table(summaries, comparisons).to_dict("records"):
        paper = r["source"].startswith("Shokri")
        cells = []
        for c in cols:
            v = r[c]
            if np.isnan(v):
                cells.append("—")
            elif paper:
                cells.append(f"≈{v:.1f}" if c in ("target test acc", "median class recall") else f"{v:.2f}")
            else:
                cells.append(f"{v:.3f}")
        lines.append(f"| {r['size n']:,} | {r['source']} | {r['epochs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machines_table(summary: dict) -> pd.DataFrame:
    """Where a result's models were trained, from ``summary["stage1_trained_on"]``: one row per size and
    machine (trainer, backend, device, device name, Keras, models); empty for a summary without it."""
    unrecorded = {"backend": "not recorded in the model files (written before they kept the machine)"}
    return pd.DataFrame([{"size n": int(n), **row, **(unrecorded if row.get("backend") == "not recorded" else {})}
                         for n, rows in summary.get("stage1_trained_on", {}).items() for row in rows])


#: the tables that moved to their experiment's module: still found here, with a warning
__getattr__ = names_moved(__name__, {
    **dict.fromkeys(("DEFENSE_ORDER", "mitigation_table", "strength_text", "mitigation_attacks_table", "precision_text",
                     "markdown_mitigation_attacks", "markdown_dp", "markdown_mitigation"),
                    "mia_repro.reporting.mitigation_tables"),
    **dict.fromkeys(("attacks_table", "choices_and_ties_table", "markdown_attacks", "sensitivity_table",
                     "markdown_sensitivity"), "mia_repro.reporting.compare_tables")})
