"""What every figure shares: the footer naming the profile, epochs, backend and seed it came from, saving, ROC
axes, and the ROC of one's own results (:func:`results_roc`).

Each experiment's figures are in their own module -- :mod:`.stage1_plots`, :mod:`.stage2_plots`,
:mod:`.compare_plots`, :mod:`.mitigation_plots`, :mod:`.pool_plots` -- and take the plain dicts written to
``summary.json`` / ``mitigation.json`` / ``attacks.json`` (so figures can be redrawn from committed results
alone), save a PNG and return the ``matplotlib`` figure.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from mia_repro.attacks import registry
from mia_repro.base.moved import names_moved
from mia_repro.experiment.layout import Layout


def provenance(summary: dict) -> str:
    """One line naming where a figure's numbers come from (profile, sizes, epochs, shadows, backend, device,
    trainer, seed): the parts ``summary`` holds, "" when it holds none (a result of one's own)."""
    if not isinstance(summary, dict):
        return ""
    parts = []
    if "profile" in summary:
        parts.append(f"profile {summary['profile']}")
    sizes = summary.get("sizes")
    if sizes:
        parts.append("sizes " + ", ".join(str(n) for n in (sizes if isinstance(sizes, list) else list(sizes))))
    for key, fmt in (("epochs", "{} epochs"), ("n_shadows", "{} shadows"), ("backend", "backend {}")):
        if summary.get(key) is not None:
            parts.append(fmt.format(summary[key]))
    named = {k: summary[k]["name"] if isinstance(summary.get(k), dict) else summary.get(k) for k in ("device", "trainer")}
    if isinstance(named["device"], str) and summary.get("device_name"):
        named["device"] += f": {summary['device_name']}"
    parts += [f"{k} {v}" for k, v in named.items() if isinstance(v, str)]
    if summary.get("seed") is not None:
        parts.append(f"seed {summary['seed']}")
    return " · ".join(parts) if "profile" in summary or "backend" in summary else ""


def _str_sizes(d: dict) -> dict:
    """``d`` with its ``sizes`` keyed by str (results of one's own may use int sizes)."""
    if isinstance(d, dict) and isinstance(d.get("sizes"), dict):
        return {**d, "sizes": {str(k): v for k, v in d["sizes"].items()}}
    return d


def _finish(fig, summary: dict, path: Path | str | None, footer: str | None = None, bottom: float = 0.0):
    """Lay out ``fig`` with its footer -- ``footer`` when given ("" for none), else :func:`provenance` of
    ``summary`` -- and save it to ``path`` (str or Path) when given; ``bottom``: the fraction of the height
    kept free above the footer (for a legend below the axes)."""
    text = provenance(summary) if footer is None else footer
    line = textwrap.wrap(text, width=max(40, int(19 * fig.get_figwidth()))) if text else []
    # wrapped to the figure's width (about 19 characters per inch at 7 pt), so a one-size figure keeps it whole
    if line:
        fig.text(0.5, 0.005, "\n".join(line), ha="center", va="bottom", fontsize=7, color="0.35")
    fig.tight_layout(rect=(0, 0.01 + 0.11 * len(line) / fig.get_figheight() + bottom, 1, 1))
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path: Path | str, dpi: int = 150) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically: written beside it, then renamed, so that a full disk or a
    kill mid-write never leaves a truncated image under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def roc(curves: dict, path: Path | str | None = None, footer: str | None = "", title: str = "ROC (log-log)",
        log: bool = True):
    """A ROC per entry of ``curves`` = ``{name: (member bool (N,), score float (N,))}`` on one axis, AUC in the
    legend; log-log axes by default (low FPR visible), the dotted line at 0.1% FPR.  For results of one's own:
    no profile or size needed; ``footer`` a line of provenance if wanted."""
    from mia_repro.evaluation.metrics import check_member_score

    fig, ax = plt.subplots(figsize=(5.5, 5))
    floor, n_neg = (1e-5 if log else 0.0), []
    for i, (name, (member, score)) in enumerate(curves.items()):
        member, score = check_member_score(member, score, f"curves[{name!r}] score")
        n_neg.append(int((~member).sum()))
        fpr, tpr, _ = roc_curve(member, score)
        auc = float(roc_auc_score(member, score)) if member.any() and not member.all() else float("nan")
        ax.plot(np.maximum(fpr, floor), np.maximum(tpr, floor), color=f"C{i % 10}", ls="-" if i < 10 else "--",
                label=f"{attack_label(str(name))} ({auc:.3f})")
    _roc_axes(ax, title, log, xmin=max(1e-4, 0.5 / max(min(n_neg, default=1), 1)))
    if log:
        ax.axvline(1e-3, color="k", ls=":", lw=1)
    ax.legend(fontsize=7, loc="lower right", title="attack (AUC)", title_fontsize=7)
    return _finish(fig, {}, path, footer)


def results_roc(results, path: Path | str | None = None, footer: str | None = ""):
    """Every attack's ROC of :class:`~mia_repro.evaluation.evaluate.AttackResults` (:func:`mia_repro.evaluation.evaluate.run_attacks`'s)
    on log-log axes (:func:`roc`); saved to ``path`` when given."""
    return roc({name: (s["member"], s["score"]) for name, s in results.scores.items()}, path, footer=footer,
               title="Membership inference on one's own model (log-log ROC)")


def _roc_axes(ax, title: str, log: bool = True, xmin: float = 1e-4) -> None:
    """The random-guess diagonal, log-log (or linear) axes from ``xmin``, the axis labels, title and grid."""
    grid = np.logspace(-5, 0, 100) if log else np.linspace(0, 1, 2)
    ax.plot(grid, grid, "k--", lw=0.8, label="random guess")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(xmin, 1)
        ax.set_ylim(1e-4, 1.05)
    ax.set_xlabel("false-positive rate (non-members called members)")
    ax.set_ylabel("true-positive rate (members caught)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")


def _size_axis(ax, sizes: list[int]) -> None:
    """Log x axis labelled with the training sizes only (no 3x10^3-style minor labels when the sizes span
    less than a decade)."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def _paired_bars(ax, labels, left, right, left_label, right_label, annotate=True, fontsize=None,
                 left_err=None, right_err=None):
    """Two bars per label (left / right of the tick), optional value labels on top and error bars
    (``*_err``: (2, len(labels)) distances below and above, as ``errorbar``'s ``yerr``)."""
    x = np.arange(len(labels))
    ax.bar(x - 0.2, left, 0.4, label=left_label, color="C0", yerr=left_err, capsize=2, ecolor="0.3")
    ax.bar(x + 0.2, right, 0.4, label=right_label, color="C1", yerr=right_err, capsize=2, ecolor="0.3")
    if annotate:
        top = lambda err, i: 0.0 if err is None or np.isnan(err[1][i]) else err[1][i]
        for i, (a, b) in enumerate(zip(left, right)):
            ax.text(i - 0.2, a + top(left_err, i) + 0.015, f"{a:.2f}", ha="center", fontsize=7)
            ax.text(i + 0.2, b + top(right_err, i) + 0.015, f"{b:.2f}", ha="center", fontsize=7)
    ax.set_xticks(x, labels, fontsize=fontsize)
    ax.grid(alpha=0.3, axis="y")
    return x


def draw_all(figures: dict, args: tuple, out_dir: Path, close: bool = True) -> dict[str, plt.Figure]:
    """Call each ``figures[name](*args, path)`` saving to ``out_dir/name``; close them unless asked not to."""
    layout = Layout.at(out_dir)
    figs = {name: fn(*args, layout.figure(name)) for name, fn in figures.items()}
    if close:
        for f in figs.values():
            plt.close(f)
    return figs


def attack_label(name: str) -> str:
    """The short name tables and figures show for an attack of :mod:`mia_repro.attacks` (its ``label``, which
    names the variant: per-class or global threshold, one-sided test, tuned or fixed SVM); ``name`` otherwise."""
    s = registry.specs().get(name)
    return s.label if s is not None and s.label else name


#: the figures that moved to their experiment's module: still found here, with a warning
_MOVED = {**dict.fromkeys(("stage1_accuracy", "training_curves", "STAGE1_FIGURES", "stage1_figures"), "stage1_plots"),
          **dict.fromkeys(("per_class_precision", "precision_recall_vs_size", "roc_curves", "target_accuracy",
                           "STAGE2_FIGURES", "stage2_figures"), "stage2_plots"),
          **dict.fromkeys(("attacks_roc", "attacks_tpr_vs_size", "compare_figures"), "compare_plots"),
          **dict.fromkeys(("DEFENSE_LABELS", "auc_errors", "mitigation_vs_strength", "privacy_utility",
                           "mitigation_bars", "MITIGATION_FIGURES", "mitigation_figures", "dp_accuracy", "DP_ATTACKS",
                           "dp_attacks", "dp_audit", "DP_FIGURES"), "mitigation_plots")}


__getattr__ = names_moved(__name__, {n: f"mia_repro.reporting.{m}" for n, m in _MOVED.items()})
