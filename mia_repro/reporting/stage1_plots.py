"""Stage I's figures: the target's and shadows' accuracy per size and their training curves."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np

from mia_repro.reporting.plots import _finish, _paired_bars, draw_all


def stage1_accuracy(stage1: dict, meta: dict, path: Path | str | None = None, footer: str | None = None):
    """Train (member) and test (non-member) accuracy of the target and the shadows, per size.

    ``stage1`` is ``run_stage1``'s ``{size: SizeOutputs}``.
    """
    sizes = sorted(stage1)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    _paired_bars(ax, [f"{n:,}" for n in sizes], [stage1[n].target.train_acc for n in sizes],
                 [stage1[n].target.test_acc for n in sizes], "target train (members)", "target test (non-members)")
    for i, n in enumerate(sizes):
        tr = [s.train_acc for s in stage1[n].shadows]
        te = [s.test_acc for s in stage1[n].shadows]
        ax.plot([i - 0.1] * len(tr), tr, "k.", ms=4, label="shadow models" if i == 0 else None)
        ax.plot([i + 0.3] * len(te), te, "k.", ms=4)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("training-set size n (records)")
    ax.set_ylabel("classification accuracy")
    ax.set_title("Stage I: target (bars) and shadows (dots), train vs test")
    ax.legend(fontsize=8, loc="lower right")
    return _finish(fig, meta, path, footer)


def training_curves(stage1: dict, meta: dict, path: Path | str | None = None, footer: str | None = None):
    """Per-epoch training loss and accuracy of every target (solid) and shadow (thin) model."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, n in enumerate(sorted(stage1)):
        so = stage1[n]
        for j, m in enumerate([so.target, *so.shadows]):
            epochs = np.arange(1, len(m.history.get("loss", [])) + 1)
            kw = dict(color=f"C{i}", lw=2 if j == 0 else 0.5, alpha=1 if j == 0 else 0.5,
                      label=f"n = {n:,} target" if j == 0 else None)
            axes[0].plot(epochs, m.history.get("loss", []), **kw)
            axes[1].plot(epochs, m.history.get("accuracy", []), **kw)
    axes[0].set_ylabel("training loss (cross-entropy)")
    axes[1].set_ylabel("training accuracy (running, on members)")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("Stage I training loss")
    axes[1].set_title("Stage I training accuracy")
    return _finish(fig, meta, path, footer)


STAGE1_FIGURES = {"fig_stage1_accuracy.png": stage1_accuracy, "fig_stage1_training.png": training_curves}


def stage1_figures(stage1: dict, meta: dict, out_dir: Path, close: bool = True) -> dict[str, plt.Figure]:
    """Draw the Stage I figures into ``out_dir``; returns {file name: figure}."""
    return draw_all(STAGE1_FIGURES, (stage1, meta), out_dir, close)


__all__ = ["STAGE1_FIGURES", "stage1_accuracy", "stage1_figures", "training_curves"]
