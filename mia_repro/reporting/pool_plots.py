"""The reference pool's figures, drawn from ``pool.json`` and ``pool_scores.npz``: attack power against the
number of references, the per-record IN-flag rates, and the most and least vulnerable images."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from mia_repro.reporting.plots import _finish, _roc_axes, draw_all
from mia_repro.evaluation.metrics import Metric


#: the attacks the flag-rate figure always draws beside the strongest one
FLAG_RATE_ATTACKS = ("lira_online_global", "lira_offline_global", "rmia_online_tuned", "rmia_offline_tuned",
                     "loss_threshold_global")


#: the variants the power curve draws dashed, beside the ones to use (global variance, tuned signal)
BESIDE = ("lira_online", "lira_offline", "rmia_online", "rmia_offline")


def strongest(doc: dict) -> str:
    """The pool's strongest attack (largest mean TPR at 0.1% FPR), as ``pool.json`` names it."""
    return doc.get("strongest") or max(doc["attacks"], key=lambda n: doc["attacks"][n][Metric.TPR_AT_0_1PCT_FPR]["mean"])


def _footer(doc: dict) -> str:
    t = doc.get("training", {})
    return (f"profile {doc.get('profile')} · pool n = {doc['pool']['size']:,} ({doc['records']['pool']:,} records), "
            f"{doc['pool']['n_models']} models, {doc['pool']['n_targets']} leave-one-out targets · "
            f"{t.get('epochs')} epochs · backend {t.get('backend')} · {t.get('device')}: {t.get('device_name')} · "
            f"seed {doc.get('seed')}")


def power_curve(doc: dict, path: Path | str | None = None, footer: str | None = None):
    """TPR at 0.1% FPR and AUC (mean over targets, with their min and max) against the number of references;
    solid: LiRA with a global variance and RMIA with its tuned signal, dashed: the variants beside them."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    for ax, key, title in ((axes[0], Metric.TPR_AT_0_1PCT_FPR, "TPR at 0.1% FPR"), (axes[1], Metric.AUC, "AUC")):
        for i, (name, by_r) in enumerate(doc["curve"].items()):
            r = np.array([int(k) for k in by_r])
            mean = np.array([by_r[k][key]["mean"] for k in by_r])
            lo = np.array([by_r[k][key]["min"] for k in by_r])
            hi = np.array([by_r[k][key]["max"] for k in by_r])
            beside = name in BESIDE  # the per-record / paper-signal variants, dashed beside the rule's
            ax.plot(r, mean, marker="o" if "online" in name else "s", ms=3, color=f"C{i}", ls="--" if beside else "-",
                    lw=1.0 if beside else 1.6, label=name)
            ax.fill_between(r, lo, hi, color=f"C{i}", alpha=0.12)
        ax.set_xscale("log", base=2)
        ax.set_xticks(r, [str(v) for v in r])
        ax.set_xlabel("reference models per score")
        ax.set_ylabel(f"{title} (mean; band: min-max over targets)")
        ax.set_title(f"{title} against the number of references")
        ax.grid(alpha=0.3, which="both")
        if key == "auc":
            ax.axhline(0.5, color="k", ls=":", lw=1)
    axes[1].legend(fontsize=7)
    return _finish(fig, doc, path, _footer(doc) if footer is None else footer)


def _per_target(scores: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(T, N) scores and memberships of attack ``name`` from ``pool_scores.npz``'s arrays."""
    keys = sorted(k for k in scores if k.startswith(f"{name}/") and k.endswith("/score"))
    return (np.stack([scores[k] for k in keys]), np.stack([scores[k.replace("/score", "/member")] for k in keys]))


def pool_roc(doc: dict, scores: dict, path: Path | str | None = None, footer: str | None = None):
    """Every pool attack's ROC on the first leave-one-out target, log-log, AUC as the mean over targets."""
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    for i, (name, block) in enumerate(doc["attacks"].items()):
        s, m = _per_target(scores, name)
        fpr, tpr, _ = roc_curve(m[0], s[0])
        ax.plot(np.maximum(fpr, 1e-5), np.maximum(tpr, 1e-5), color=f"C{i % 10}", ls="-" if "online" in name else "--",
                lw=1.2, label=f"{name} ({block['auc']['mean']:.3f})")
    n_neg = int((~m[0].astype(bool)).sum())
    _roc_axes(ax, f"target {doc['attacks'][name]['per_target'][0]['target']} ({n_neg:,} non-members)",
              xmin=max(1e-4, 0.5 / n_neg))
    ax.axvline(1e-3, color="k", ls=":", lw=1)
    ax.legend(fontsize=6, loc="lower right", title="attack (mean AUC over targets)", title_fontsize=6)
    return _finish(fig, doc, path, _footer(doc) if footer is None else footer)


def flag_rates(doc: dict, scores: dict, path: Path | str | None = None, footer: str | None = None):
    """Per record, the share of the targets that trained on it which flag it (threshold set on the references
    for each FPR), as a histogram per attack: a record flagged by every target that had it sits at 1."""
    levels = list(doc["pool"]["fpr_levels"])
    best = strongest(doc)
    names = [best] + [n for n in doc["attacks"] if n in FLAG_RATE_ATTACKS and n != best]
    fig, axes = plt.subplots(1, len(levels), figsize=(5.5 * len(levels), 4.2), squeeze=False)
    bins = np.linspace(0, 1, 11)
    for ax, alpha in zip(axes[0], levels):
        key = f"fpr={alpha:g}"
        for i, name in enumerate(names):
            rate = scores[f"{name}/in_rate@{key}"]
            ok = ~np.isnan(rate) & (scores["n_in"] >= 2)
            ax.hist(rate[ok], bins=bins, histtype="step", lw=2.2 if name == best else 1.2, color=f"C{i}",
                    label=f"{name}{' (strongest)' if name == best else ''} "
                          f"(≥90%: {doc['attacks'][name]['reproducibility'][key]['share_reliable']:.1%})")
        ax.set_yscale("log")
        ax.set_xlabel("IN-flag rate: share of the targets that trained on the record which flag it")
        ax.set_ylabel("records (IN for ≥ 2 targets)")
        ax.set_title(f"threshold set on the references for {alpha:.1%} FPR")
        ax.legend(fontsize=7)
    return _finish(fig, doc, path, _footer(doc) if footer is None else footer)


def gallery(doc: dict, scores: dict, images: np.ndarray, class_names, path: Path | str | None = None,
            footer: str | None = None, attack: str | None = None):
    """The 16 most and the 16 least vulnerable pool records under ``attack`` (None: the strongest), ranked by
    their mean score over the targets that trained on them (a float: no ties, unlike a flag rate that
    thousands of records share at 100%), each titled with that rank's statistic and its IN-flag rate.
    ``images`` uint8 (N_pool, 32, 32, 3) in the pool's record order."""
    from mia_repro.reporting.pool_tables import record_risk

    attack = strongest(doc) if attack is None else attack
    alpha = max(doc["pool"]["fpr_levels"])
    rate = scores[f"{attack}/in_rate@fpr={alpha:g}"]
    risk = record_risk(scores, attack)
    position = {rid: i for i, rid in enumerate(np.asarray(scores["pool_indices"]))}
    ranked = [position[r] for r, n_in in zip(risk.index, risk["n_in"]) if n_in >= 2]  # most exposed first
    mean_in = risk["mean score IN"].reindex(np.asarray(scores["pool_indices"])).to_numpy()
    picks = {"most vulnerable": np.array(ranked[:16]), "least vulnerable": np.array(ranked[::-1][:16])}
    true = scores["true_class"]
    # rows 0-1: the most vulnerable, row 2: a spacer holding the second heading, rows 3-4: the least
    fig, grid = plt.subplots(5, 8, figsize=(12, 7.8), gridspec_kw={"height_ratios": [1, 1, 0.22, 1, 1]})
    for ax in grid[2]:
        ax.axis("off")
    headings = []
    for row, (title, idx) in enumerate(picks.items()):
        rows = grid[3 * row: 3 * row + 2]
        for j in range(16):
            ax = rows[j // 8, j % 8]
            ax.axis("off")
            if j < len(idx):
                i = idx[j]
                ax.imshow(images[i])
                ax.set_title(f"{class_names[true[i]]}\nscore {mean_in[i]:.3g} · flag {rate[i]:.0%} "
                             f"({int(scores['n_in'][i])} IN)", fontsize=7)
        headings.append(f"{title} under {attack}: mean score over the targets that trained on the record "
                        f"(flag: share of them flagging it at {alpha:.1%} FPR)")
    fig.suptitle(headings[0], fontsize=9, fontweight="bold")
    label = grid[2, 0].text(0.0, 0.2, headings[1], transform=grid[2, 0].transAxes, fontsize=9, fontweight="bold")
    label.set_in_layout(False)  # it spans the spacer row, over empty axes
    return _finish(fig, doc, path, _footer(doc) if footer is None else footer)


def pool_figures(doc: dict, scores: dict, images: np.ndarray | None, class_names, out_dir: Path,
                 close: bool = True) -> dict:
    """Every pool figure into ``out_dir`` (the gallery only when ``images`` are given)."""
    figs = draw_all({"fig_pool_power_curve.png": power_curve}, (doc,), out_dir, close)
    figs.update(draw_all({"fig_pool_roc.png": pool_roc, "fig_pool_flag_rates.png": flag_rates}, (doc, scores),
                         out_dir, close))
    if images is not None:
        figs.update(draw_all({"fig_pool_gallery.png": gallery}, (doc, scores, images, class_names), out_dir, close))
    return figs
