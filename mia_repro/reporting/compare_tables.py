"""The comparison's tables: every attack on the same target (with the seed spread where measured), the
choices each attack made and its score ties, and the SVM grid's sensitivity."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mia_repro.evaluation.metrics import Metric
from mia_repro.reporting.tables import _ci, _seed_sd


def attacks_table(result: dict, spread: dict | None = None) -> pd.DataFrame:
    """One row per (size, attack) of ``attacks.json``: AUC, balanced accuracy, TPRs at low FPR with 95% intervals;
    with ``spread`` (:func:`~mia_repro.reporting.spread.spread_for` ``(cfg, "attacks")``) their seed-to-seed spread."""
    rows = []
    for n, blocks in result["sizes"].items():
        for name, b in blocks.items():
            rows.append({"size n": int(n), "attack": name, "variant": b.get("label", name), "AUC": b["auc"],
                         "balanced acc": b[Metric.BALANCED_ACCURACY],
                         "precision": b["precision"], "recall": b["recall"],
                         "TPR@1%FPR": b[Metric.TPR_AT_1PCT_FPR], "95% CI @1%": _ci(b, Metric.TPR_AT_1PCT_FPR),
                         "TPR@0.1%FPR": b[Metric.TPR_AT_0_1PCT_FPR], "95% CI @0.1%": _ci(b, Metric.TPR_AT_0_1PCT_FPR),
                         "TPR@0%FPR": b[Metric.TPR_AT_0PCT_FPR], "non-members": b["n_nonmembers"],
                         "max advantage": b[Metric.ADVANTAGE_MAX], **_seed_sd(spread, n, name)})
    return pd.DataFrame(rows)


def choices_and_ties_table(result: dict) -> pd.DataFrame:
    """Per (size, attack) of ``attacks.json``: the variant, what the attack chose on the attacker's data (RMIA's
    ``a`` and ``gamma``, the fixed SVM's C and gamma) and the ties in its scores (:func:`~mia_repro.evaluation.metrics.score_ties`)."""
    rows = []
    for n, blocks in result["sizes"].items():
        for name, b in blocks.items():
            info = b.get("info", {})
            chose = ", ".join(f"{k}={info[k]:g}" for k in ("a", "gamma", "C") if k in info)
            ties = b.get("ties", {})
            rows.append({"size n": int(n), "attack": b.get("label", name), "chosen": chose,
                         "tied records": ties.get("tied_records"), "mixed": ties.get("mixed_records"),
                         "largest tie group": ties.get("largest_group")})
    return pd.DataFrame(rows)


def markdown_attacks(result: dict, size: int | str) -> str:
    """The README's table of one size: attack, AUC, TPR@1%FPR and TPR@0.1%FPR (bootstrap 95% intervals)."""
    blocks = result["sizes"][str(size)]
    n_neg = next(iter(blocks.values()))["n_nonmembers"]
    lines = [f"| attack (n = {int(size):,}; {n_neg:,} non-members) | AUC | TPR@1%FPR [95% CI] | TPR@0.1%FPR [95% CI] |",
             "|---|---|---|---|"]
    for name, b in sorted(blocks.items(), key=lambda kv: -kv[1][Metric.TPR_AT_0_1PCT_FPR]):
        lines.append(f"| {b.get('label', name)} | {b['auc']:.3f} | {b[Metric.TPR_AT_1PCT_FPR]:.4f} {_ci(b, Metric.TPR_AT_1PCT_FPR)} "
                     f"| {b[Metric.TPR_AT_0_1PCT_FPR]:.4f} {_ci(b, Metric.TPR_AT_0_1PCT_FPR)} |")
    return "\n".join(lines)


def sensitivity_table(result: dict) -> pd.DataFrame:
    """``svm_sensitivity.json`` as rows (size, C, gamma, median class precision / recall, AUC, ...)."""
    return pd.DataFrame([{"size n": int(n), **r} for n, rows in result["sizes"].items() for r in rows])


def markdown_sensitivity(result: dict, tuned: dict | None = None) -> str:
    """The README's sensitivity table: per (C, gamma) the fixed SVM's median class precision at every size
    (recall and AUC in brackets); ``tuned`` (``summary.json``) adds the tuned SVM's row, "*" marks the default."""
    sizes = list(result["sizes"])
    lines = ["| C | gamma | " + " | ".join(f"n = {int(n):,}: median class precision [recall, AUC]" for n in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    default = tuple(result.get("default", ()))
    for i, (C, g) in enumerate(result["pairs"]):
        cells = []
        for n in sizes:
            r = result["sizes"][n][i]
            cells.append(f"{r['median_class_precision']:.3f} [{r['median_class_recall']:.3f}, {r['auc']:.3f}]")
        mark = " *" if (C, g) == default else ""
        lines.append(f"| {C:g}{mark} | {g:g}{mark} | " + " | ".join(cells) + " |")
    if tuned:
        cells = []
        for n in sizes:
            a = tuned["sizes"][n]["attack"]
            cells.append(f"{np.median(a['per_class']['precision']):.3f} [{np.median(a['per_class']['recall']):.3f}, "
                         f"{a['auc']:.3f}]")
        lines.append("| tuned per class | by CV | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["attacks_table", "choices_and_ties_table", "markdown_attacks", "markdown_sensitivity", "sensitivity_table"]
