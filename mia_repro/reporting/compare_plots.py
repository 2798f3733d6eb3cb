"""The comparison's figures: every attack's ROC on the same target and its TPR at low FPR against the
training size."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from mia_repro.base.cache import load_npz
from mia_repro.experiment.layout import Layout
from mia_repro.evaluation.metrics import Metric
from mia_repro.reporting.plots import _finish, _roc_axes, _size_axis, _str_sizes, attack_label, draw_all


def attacks_roc(result: dict, scores: dict, path: Path | str | None = None, footer: str | None = None):
    """Per size, the ROC of every attack on log-log axes (a grid of two columns, page-wide); the dotted line
    marks 0.1% FPR.  One legend below the grid names the attacks with their AUC per size.

    ``result`` is ``attacks.json``; ``scores[n][attack]`` the arrays of ``attack_scores/<attack>_<n>.npz``.
    """
    result = _str_sizes(result)
    scores = {str(k): v for k, v in scores.items()}
    sizes = list(result["sizes"])
    ncols = min(2, len(sizes))
    nrows = -(-len(sizes) // ncols)
    names = list(next(iter(result["sizes"].values())))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.2 * nrows), squeeze=False)
    for ax in axes.flat[len(sizes):]:
        ax.remove()  # an odd number of sizes: no empty panel
    handles = []
    for ax, n in zip(axes.flat, sizes):
        for i, name in enumerate(names):
            s = scores[n][name]
            fpr, tpr, _ = roc_curve(s["member"], s["score"])
            line, = ax.plot(np.maximum(fpr, 1e-5), np.maximum(tpr, 1e-5), color=f"C{i % 10}",
                            ls="-" if i < 10 else "--", lw=1.1)
            if n == sizes[0]:
                handles.append(line)
        n_neg = next(iter(result["sizes"][n].values()))["n_nonmembers"]
        _roc_axes(ax, f"n = {int(n):,} ({n_neg:,} non-members)", xmin=max(1e-4, 0.5 / n_neg))
        ax.axvline(1e-3, color="k", ls=":", lw=1)
        ax.text(1.1e-3, 1.5e-4, "0.1% FPR", fontsize=7)
    aucs = lambda name: " / ".join(f"{result['sizes'][n][name]['auc']:.3f}" for n in sizes)
    labels = [f"{attack_label(name)} ({aucs(name)})" for name in names]
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7, frameon=False,
               title=f"attack (AUC at n = {' / '.join(f'{int(n):,}' for n in sizes)})", title_fontsize=7,
               bbox_to_anchor=(0.5, 0.04))
    title = "Membership inference attacks on the same target, log-log ROC"
    fig.suptitle(title if ncols > 1 else textwrap.fill(title, 40), fontsize=11)
    legend_rows = -(-len(names) // 2) + 1
    return _finish(fig, result, path, footer, bottom=(0.16 * legend_rows + 0.35) / fig.get_figheight())


def attacks_tpr_vs_size(result: dict, path: Path | str | None = None, footer: str | None = None):
    """TPR at 1% and at 0.1% FPR of every attack vs training size, with the bootstrap 95% intervals."""
    result = _str_sizes(result)
    sizes = [int(n) for n in result["sizes"]]
    names = list(next(iter(result["sizes"].values())))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, key, level in ((axes[0], Metric.TPR_AT_1PCT_FPR, 0.01), (axes[1], Metric.TPR_AT_0_1PCT_FPR, 0.001)):
        for i, name in enumerate(names):
            blocks = [result["sizes"][str(n)][name] for n in sizes]
            y = np.array([b[key] for b in blocks])
            ci = np.array([b.get(f"{key}_ci95", [v, v]) for b, v in zip(blocks, y)])
            shift = 1 + 0.025 * (i - len(names) / 2)  # spread the error bars sideways
            ax.errorbar(np.array(sizes) * shift, y, yerr=[y - ci[:, 0], ci[:, 1] - y], marker="o" if i < 10 else "s",
                        ms=3, capsize=2, color=f"C{i % 10}", ls="-" if i < 10 else "--", lw=1, label=attack_label(name))
        ax.axhline(level, color="k", ls=":", lw=1, label="random guess (TPR = FPR)")
        _size_axis(ax, sizes)  # y stays linear: a TPR of 0 must stay visible
        ax.set_ylim(bottom=0)
        ax.set_xlabel("target training-set size n (records)")
        ax.set_ylabel(f"TPR at {level:.1%} FPR (95% bootstrap interval)")
        ax.set_title(f"Members caught at {level:.1%} FPR")
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: the data fill both panels
    return _finish(fig, result, path, footer)


def compare_figures(result: dict, out_dir: Path, close: bool = True) -> dict[str, plt.Figure]:
    """Draw the attack-comparison figures into ``out_dir``; returns {file name: figure}."""
    out_dir = Path(out_dir)
    scores = {n: {a: load_npz(Layout.at(out_dir).compared_scores(a, n)) for a in blocks}
              for n, blocks in result["sizes"].items()}
    figs = draw_all({"fig_attacks_roc.png": attacks_roc}, (result, scores), out_dir, close)
    figs.update(draw_all({"fig_attacks_tpr_vs_size.png": attacks_tpr_vs_size}, (result,), out_dir, close))
    return figs


__all__ = ["attacks_roc", "attacks_tpr_vs_size", "compare_figures"]
