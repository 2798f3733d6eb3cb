"""Figures for a report: each one names the profile, epochs, backend and seed it came from.

Every function takes the plain dicts written to ``summary.json`` /
``mitigation.json`` (so figures can be redrawn from committed results alone),
saves a PNG and returns the ``matplotlib`` figure.
"""
from __future__ import annotations

import os

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from mia_repro.attacks import registry
from mia_repro.cache import load_npz
from mia_repro.experiment.layout import Layout
from mia_repro.data.cifar10 import CLASS_NAMES
from mia_repro.metrics import Metric


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
    from mia_repro.metrics import check_member_score

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
    """Every attack's ROC of :class:`~mia_repro.evaluation.AttackResults` (:func:`mia_repro.own.run_attacks`'s)
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


def _size_axis(ax, sizes: list[int]) -> None:
    """Log x axis labelled with the training sizes only (no 3x10^3-style minor labels when the sizes span
    less than a decade)."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


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


def draw_all(figures: dict, args: tuple, out_dir: Path, close: bool = True) -> dict[str, plt.Figure]:
    """Call each ``figures[name](*args, path)`` saving to ``out_dir/name``; close them unless asked not to."""
    layout = Layout.at(out_dir)
    figs = {name: fn(*args, layout.figure(name)) for name, fn in figures.items()}
    if close:
        for f in figs.values():
            plt.close(f)
    return figs


DEFENSE_LABELS = {
    "none": "undefended",
    "l2": "L2 strength",
    "dropout": "dropout rate",
    "topk": "top-k (k)",
    "rounding": "rounding (decimals)",
    "temperature": "temperature T",
    "dp": "DP-SGD target ε",
}


def _rows(records: list[dict], **match) -> list[dict]:
    return [r for r in records if all(r[k] == v for k, v in match.items())]


def auc_errors(rows: list[dict]) -> np.ndarray:
    """(2, len(rows)) distances from each row's ``auc`` down and up to its 95% interval
    (:func:`mia_repro.metrics.auc_interval` from the AUC, ``size`` members and ``n_nonmembers``), as
    ``errorbar``'s ``yerr``; NaN for a missing row (None)."""
    from mia_repro.metrics import auc_interval

    out = np.full((2, len(rows)), np.nan)
    for i, r in enumerate(rows):
        if r is not None:
            lo, hi = auc_interval(r["auc"], r["size"], r.get("n_nonmembers", r["size"]))
            out[:, i] = r["auc"] - lo, hi - r["auc"]
    return out


def mitigation_vs_strength(records: list[dict], meta: dict, path: Path | str | None = None, footer: str | None = None):
    """Attack AUC and precision vs L2 strength and dropout rate, per size and attacker scenario.

    Solid lines: aware attacker (shadows trained like the target); dashed:
    unaware (Stage II attack reused).  The undefended model is strength 0.  One column per defense of the
    sweep (an L2-only sweep has no dropout panels).
    """
    defenses = [d for d in ("l2", "dropout") if _rows(records, defense=d)]
    fig, axes = plt.subplots(2, len(defenses), figsize=(5 * len(defenses), 7), squeeze=False)
    sizes = sorted({r["size"] for r in records})
    for col, defense in enumerate(defenses):
        for row, metric in enumerate(("auc", "precision")):
            ax = axes[row][col]
            for i, size in enumerate(sizes):
                for scenario, ls in (("aware", "-"), ("unaware", "--")):
                    pts = sorted(_rows(records, defense=defense, size=size, scenario=scenario)
                                 + _rows(records, defense="none", size=size, scenario=scenario), key=lambda r: r["strength"])
                    if len(pts) < 2:
                        continue
                    xs = [r["strength"] for r in pts]
                    ax.errorbar(xs, [r[metric] for r in pts], yerr=auc_errors(pts) if metric == "auc" else None,
                                ls=ls, marker="o", ms=4, capsize=2, color=f"C{i}", label=f"n = {size:,}, {scenario}")
            ax.axhline(0.5, color="k", ls=":", lw=1, label="random guess (0.5)")
            if defense == "l2":
                ax.set_xscale("symlog", linthresh=1e-4)
                ax.set_xlim(left=0)
            ax.set_xlabel(DEFENSE_LABELS[defense] + " (0 = undefended)")
            ax.set_ylabel("attack ROC AUC (95% interval)" if metric == "auc" else "attack precision (member = positive)")
            ax.set_title(f"SVM attack {metric.upper() if metric == 'auc' else metric} vs {DEFENSE_LABELS[defense]}")
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _finish(fig, meta, path, footer)


def privacy_utility(records: list[dict], meta: dict, path: Path | str | None = None, footer: str | None = None):
    """Target test accuracy vs attack AUC, one point per defense setting.

    Filled markers: the aware attacker; hollow markers: the unaware attacker,
    drawn only for settings where no aware attack was run (to bound cost).
    """
    sizes = sorted({r["size"] for r in records})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 4.5), squeeze=False)
    markers = {"l2": "o", "dropout": "s", "topk": "^", "rounding": "v", "temperature": "D", "dp": "P"}
    for ax, size in zip(axes[0], sizes):
        for j, (defense, mk) in enumerate(markers.items()):
            aware = _rows(records, defense=defense, size=size, scenario="aware")
            done = {r["strength"] for r in aware}
            unaware = [r for r in _rows(records, defense=defense, size=size, scenario="unaware") if r["strength"] not in done]
            for pts, label, face in ((aware, DEFENSE_LABELS[defense], f"C{j}"),
                                     (unaware, DEFENSE_LABELS[defense] + " (unaware only)", "none")):
                if not pts:
                    continue
                ax.errorbar([r["target_test_acc"] for r in pts], [r["auc"] for r in pts], yerr=auc_errors(pts),
                            fmt="none", ecolor=f"C{j}", elinewidth=0.8, capsize=2)
                ax.scatter([r["target_test_acc"] for r in pts], [r["auc"] for r in pts], marker=mk,
                           facecolors=face, edgecolors=f"C{j}", label=label)
                for r in pts:
                    ax.annotate(f"{r['strength']:g}", (r["target_test_acc"], r["auc"]), fontsize=6,
                                xytext=(3, 3), textcoords="offset points")
        for r in _rows(records, defense="none", size=size, scenario="aware"):
            ax.scatter([r["target_test_acc"]], [r["auc"]], marker="*", s=200, color="k", label="undefended", zorder=5)
        ax.axhline(0.5, color="k", ls=":", lw=1, label="random guess (AUC 0.5)")
        ax.set_xlabel("target test accuracy (non-members)")
        ax.set_ylabel("attack ROC AUC, 95% interval (filled: aware)")
        ax.set_title(f"Privacy vs utility, n = {size:,}")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _finish(fig, meta, path, footer)


#: short tick names of :func:`mitigation_bars` (the long ones overlap at seven defenses per panel)
BAR_NAMES = {"rounding": "round", "temperature": "temp.", "dropout": "drop."}


def mitigation_bars(records: list[dict], meta: dict, path: Path | str | None = None, footer: str | None = None):
    """Per size: attack AUC without defense and with each defense at its strongest setting, both scenarios."""
    sizes = sorted({r["size"] for r in records})
    strongest = {"none": max, "l2": max, "dropout": max, "topk": min, "rounding": min, "temperature": max, "dp": min}
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 4.2), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        labels, rows = [], {"unaware": [], "aware": []}
        for defense, pick in strongest.items():
            cands = _rows(records, defense=defense, size=size)
            if not cands:
                continue
            s = pick(r["strength"] for r in cands)
            labels.append("none" if defense == "none" else f"{BAR_NAMES.get(defense, defense)}\n{s:g}")
            for scenario in rows:
                hit = _rows(records, defense=defense, size=size, scenario=scenario, strength=s)
                rows[scenario].append(hit[0] if hit else None)
        vals = {k: [np.nan if r is None else r["auc"] for r in v] for k, v in rows.items()}
        _paired_bars(ax, labels, vals["unaware"], vals["aware"], "unaware attacker", "aware attacker", fontsize=8,
                     left_err=auc_errors(rows["unaware"]), right_err=auc_errors(rows["aware"]))
        ax.axhline(0.5, color="k", ls=":", lw=1, label="random guess (0.5)")
        ax.set_ylim(0.3, 1.05)
        ax.set_ylabel("attack ROC AUC (95% interval)")
        ax.set_title(f"Before / after defenses, n = {size:,}")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _finish(fig, meta, path, footer)


MITIGATION_FIGURES = {
    "fig_mitigation_vs_strength.png": mitigation_vs_strength,
    "fig_privacy_utility.png": privacy_utility,
    "fig_mitigation_bars.png": mitigation_bars,
}


def mitigation_figures(records: list[dict], meta: dict, out_dir: Path, close: bool = True) -> dict[str, plt.Figure]:
    """Draw every mitigation figure into ``out_dir`` (the DP-SGD ones when the sweep has DP settings);
    returns {file name: figure}."""
    figures = dict(MITIGATION_FIGURES)
    if not (_rows(records, defense="l2") or _rows(records, defense="dropout")):
        del figures["fig_mitigation_vs_strength.png"]  # nothing to draw against a strength
    if _rows(records, defense="dp"):
        figures.update(DP_FIGURES)
    return draw_all(figures, (records, meta), out_dir, close)


def _attack_rows(records: list[dict], attack: str | None, meta: dict | None) -> list[dict]:
    """The SVM's rows (``attack`` None) or ``attack``'s rows of the compared attacks in ``meta``."""
    return records if attack is None else [r for r in meta.get("attack_comparison", []) if r["attack"] == attack]


def _dp_points(records: list[dict], size: int, scenario: str, attack: str | None = None, meta: dict | None = None
               ) -> list[dict]:
    """The DP rows of one size and scenario by target ε (the SVM's rows, or ``attack``'s compared rows)."""
    return sorted(_rows(_attack_rows(records, attack, meta), defense="dp", size=size, scenario=scenario),
                  key=lambda r: r["strength"])


def _no_dp(records: list[dict], size: int, scenario: str, attack: str | None = None, meta: dict | None = None):
    """The undefended row of one size and scenario (the SVM's, or ``attack``'s), None if absent."""
    hit = _rows(_attack_rows(records, attack, meta), defense="none", size=size, scenario=scenario)
    return hit[0] if hit else None


def dp_accuracy(records: list[dict], meta: dict, path: Path | str | None = None, footer: str | None = None):
    """Target train (members) and test (non-members) accuracy vs the DP-SGD target ε, per size; the
    undefended model as horizontal lines."""
    sizes = sorted({r["size"] for r in _rows(records, defense="dp")})
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, size in enumerate(sizes):
        pts = _dp_points(records, size, "unaware")
        eps = [r["strength"] for r in pts]
        ax.plot(eps, [r["target_test_acc"] for r in pts], "o-", color=f"C{i}", label=f"n = {size:,}: test (non-members)")
        ax.plot(eps, [r["target_train_acc"] for r in pts], "s--", color=f"C{i}", alpha=0.6, label=f"n = {size:,}: train")
        base = _no_dp(records, size, "unaware")
        if base:
            ax.axhline(base["target_test_acc"], color=f"C{i}", ls=":", lw=1.2, label=f"n = {size:,}: no DP, test")
    ax.axhline(0.1, color="k", ls=":", lw=0.8, label="chance (0.1)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("DP-SGD target ε (δ = 1e-5; RDP accountant)")
    ax.set_ylabel("target accuracy")
    ax.set_title("What DP-SGD costs in accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _finish(fig, meta, path, footer)


DP_ATTACKS = registry.names("dp")


def dp_attacks(records: list[dict], meta: dict, path: Path | str | None = None, footer: str | None = None):
    """AUC and TPR at 0.1% FPR of the Shokri SVM, LiRA and RMIA vs the DP-SGD target ε (solid: aware
    attacker, DP shadows; dashed: unaware, plain shadows), at the first DP size; the undefended target at the
    right edge ("no DP")."""
    size = min(r["size"] for r in _rows(records, defense="dp"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for col, metric in enumerate((Metric.AUC, Metric.TPR_AT_0_1PCT_FPR)):
        ax = axes[col]
        for j, attack in enumerate(DP_ATTACKS):
            name = None if attack == "shokri_svm" else attack
            for scenario, ls in (("aware", "-"), ("unaware", "--")):
                pts = _dp_points(records, size, scenario, name, meta)
                if not pts:
                    continue
                xs = [r["strength"] for r in pts]
                ys = [r[metric] for r in pts]
                base = _no_dp(records, size, scenario, name, meta)
                if base:
                    xs, ys = xs + [2 * max(xs)], ys + [base[metric]]
                ax.plot(xs, ys, ls=ls, marker="o", color=f"C{j}", label=f"{attack_label(attack)}, {scenario}")
        ticks = sorted({r["strength"] for r in _rows(records, defense="dp", size=size)})
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks + [2 * max(ticks)], [f"{t:g}" for t in ticks] + ["no DP"])
        if metric == "auc":
            ax.axhline(0.5, color="k", ls=":", lw=1, label="random guess (0.5)")
            ax.set_ylabel("attack ROC AUC (positive = member)")
        else:
            ax.axhline(0.001, color="k", ls=":", lw=1, label="random guess (0.001)")
            ax.set_yscale("symlog", linthresh=1e-3)  # linear below 0.001, where a TPR of 0 must show
            ax.set_ylim(bottom=0)
            ax.set_ylabel("TPR at 0.1% FPR (symlog)")
        ax.set_xlabel("DP-SGD target ε")
        ax.set_title(f"{'AUC' if metric == 'auc' else 'TPR at 0.1% FPR'} vs ε, n = {size:,}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return _finish(fig, meta, path, footer)


def dp_audit(records: list[dict], meta: dict, path: Path | str | None = None, footer: str | None = None):
    """The accountant's ε (RDP; PLD beside it) vs the valid 95% lower bound the attacks prove (attack and
    threshold selected on half of the records, the bound on the other half), per size and scenario; the
    diagonal is a tight audit."""
    fig, ax = plt.subplots(figsize=(6, 5))
    dp = _rows(records, defense="dp")
    top = max(r["epsilon"] for r in dp)
    ax.plot([0, top * 1.1], [0, top * 1.1], "k:", lw=1, label="lower bound = ε (a tight audit)")
    for i, size in enumerate(sorted({r["size"] for r in dp})):
        for scenario, mk in (("aware", "o"), ("unaware", "s")):
            pts = _dp_points(records, size, scenario)
            if not pts:
                continue
            ax.plot([r["epsilon"] for r in pts], [r["epsilon_lower_bound"] for r in pts], marker=mk, ls="-",
                    color=f"C{i}", label=f"n = {size:,}, {scenario}: vs RDP ε")
            ax.plot([r["epsilon_pld"] for r in pts], [r["epsilon_lower_bound"] for r in pts], marker=mk, ls="none",
                    mfc="none", color=f"C{i}", label=f"n = {size:,}, {scenario}: vs PLD ε")
    ax.set_xlabel("accountant's ε (δ = 1e-5)")
    ax.set_ylabel("95% lower bound on ε (selected on half, bounded on half)")
    ax.set_title("Privacy audit: what the attacks prove vs the guarantee")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _finish(fig, meta, path, footer)


DP_FIGURES = {"fig_dp_accuracy.png": dp_accuracy, "fig_dp_attacks.png": dp_attacks, "fig_dp_audit.png": dp_audit}


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


def attack_label(name: str) -> str:
    """The short name tables and figures show for an attack of :mod:`mia_repro.attacks` (its ``label``, which
    names the variant: per-class or global threshold, one-sided test, tuned or fixed SVM); ``name`` otherwise."""
    from mia_repro.attacks import registry

    s = registry.specs().get(name)
    return s.label if s is not None and s.label else name


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
