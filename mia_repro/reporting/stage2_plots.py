"""Stage II's figures (Shokri et al., Figs. 3-4): per-class precision, precision and recall against the
training size, the attack's ROC curves and the target's accuracy."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from mia_repro.base.cache import load_npz
from mia_repro.experiment.layout import Layout
from mia_repro.data.cifar10 import CLASS_NAMES
from mia_repro.reporting.plots import _finish, _paired_bars, _roc_axes, _size_axis, _str_sizes, draw_all


def per_class_precision(summary: dict, path: Path | str | None = None, footer: str | None = None):
    """The paper's per-class figure: attack precision per class, one line per size."""
    summary = _str_sizes(summary)
    fig, ax = plt.subplots(figsize=(7, 4))
    for n, block in summary["sizes"].items():
        ax.plot(range(10), block["attack"]["per_class"]["precision"], marker="o", label=f"n = {int(n):,}")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="random guess (0.5)")
    ax.set_xticks(range(10), CLASS_NAMES, rotation=30, ha="right")
    ax.set_ylim(0.4, 1.0)
    ax.set_xlabel("true class of the record")
    ax.set_ylabel("attack precision (positive = member)")
    ax.set_title("Per-class SVM attack precision on the target")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return _finish(fig, summary, path, footer)


def precision_recall_vs_size(summary: dict, path: Path | str | None = None, footer: str | None = None):
    """Overall precision and recall of the SVM attack (and the threshold baseline) vs size."""
    summary = _str_sizes(summary)
    sizes = [int(n) for n in summary["sizes"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, color in (("precision", "C0"), ("recall", "C1")):
        ax.plot(sizes, [b["attack"][key] for b in summary["sizes"].values()], marker="o", color=color, label=f"SVM {key}")
        ax.plot(sizes, [b["baseline"][key] for b in summary["sizes"].values()], marker="s", ls=":", color=color,
                label=f"threshold baseline {key}")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="random guess (0.5)")
    _size_axis(ax, sizes)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("target training-set size n (records)")
    ax.set_ylabel("attack precision / recall (positive = member)")
    ax.set_title("Membership inference vs training-set size")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, summary, path, footer)


def roc_curves(summary: dict, scores: dict[str, dict[str, np.ndarray]], path: Path | str | None = None, footer: str | None = None):
    """ROC of the SVM attack per size on log-log axes (``scores[n]`` = ``attack_scores_<n>.npz``)."""
    summary = _str_sizes(summary)
    scores = {str(k): v for k, v in scores.items()}
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for n, s in scores.items():
        fpr, tpr, _ = roc_curve(s["member"], s["score"])
        auc = summary["sizes"][str(n)]["attack"]["auc"]
        ax.plot(np.maximum(fpr, 1e-5), np.maximum(tpr, 1e-5), label=f"n = {int(n):,} (AUC {auc:.3f})")
    _roc_axes(ax, "SVM attack ROC on the target (log-log)")
    ax.legend(fontsize=8, loc="lower right")
    return _finish(fig, summary, path, footer)


def target_accuracy(summary: dict, path: Path | str | None = None, footer: str | None = None):
    """Target train (member) vs test (non-member) accuracy per size: the overfitting gap."""
    summary = _str_sizes(summary)
    sizes = list(summary["sizes"])
    fig, ax = plt.subplots(figsize=(6, 4))
    _paired_bars(ax, [f"{int(n):,}" for n in sizes], [summary["sizes"][n]["target"]["train_acc"] for n in sizes],
                 [summary["sizes"][n]["target"]["test_acc"] for n in sizes], "train (members)", "test (non-members)")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("target training-set size n (records)")
    ax.set_ylabel("classification accuracy")
    ax.set_title("Target model: train vs test accuracy")
    ax.legend(fontsize=8)
    return _finish(fig, summary, path, footer)


STAGE2_FIGURES = {
    "fig_per_class_precision.png": per_class_precision,
    "fig_precision_recall_vs_size.png": precision_recall_vs_size,
    "fig_target_accuracy.png": target_accuracy,
}


def stage2_figures(summary: dict, out_dir: Path, close: bool = True) -> dict[str, plt.Figure]:
    """Draw every Stage II figure into ``out_dir``; returns {file name: figure}."""
    out_dir = Path(out_dir)
    figs = draw_all(STAGE2_FIGURES, (summary,), out_dir, close)
    scores = {n: load_npz(Layout.at(out_dir).attack_scores(n)) for n in summary["sizes"]}
    figs.update(draw_all({"fig_roc.png": roc_curves}, (summary, scores), out_dir, close))
    return figs


__all__ = ["STAGE2_FIGURES", "per_class_precision", "precision_recall_vs_size", "roc_curves", "stage2_figures", "target_accuracy"]
