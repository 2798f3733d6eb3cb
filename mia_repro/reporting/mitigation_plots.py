"""The mitigation sweep's figures: AUC against each defense's strength (unaware and aware attacker), the
privacy-utility plane, the defenses side by side, and DP-SGD's accuracy, attacks and audit against ε."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from mia_repro.attacks import registry
from mia_repro.evaluation.metrics import Metric
from mia_repro.reporting.plots import _finish, _paired_bars, attack_label, draw_all


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
    (:func:`mia_repro.evaluation.metrics.auc_interval` from the AUC, ``size`` members and ``n_nonmembers``), as
    ``errorbar``'s ``yerr``; NaN for a missing row (None)."""
    from mia_repro.evaluation.metrics import auc_interval

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


__all__ = ["BAR_NAMES", "DEFENSE_LABELS", "DP_ATTACKS", "DP_FIGURES", "MITIGATION_FIGURES", "auc_errors", "dp_accuracy", "dp_attacks", "dp_audit", "mitigation_bars", "mitigation_figures", "mitigation_vs_strength", "privacy_utility"]
