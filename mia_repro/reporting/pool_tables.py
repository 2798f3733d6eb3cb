"""The reference pool's tables, from ``pool.json``: the attacks over the leave-one-out targets, the power
curve, per-record reproducibility and precision at membership priors (pandas DataFrames), and the
comparison with the Shokri protocol's numbers at the same size (from ``attacks.json``)."""
from __future__ import annotations

import pandas as pd


def _ms(block: dict, key: str) -> str:
    return f"{block[key]['mean']:.4f} ± {block[key]['std']:.4f}"


def attacks_table(doc: dict) -> pd.DataFrame:
    """One row per attack: AUC, TPR at 1% and 0.1% FPR as mean ± std over the targets, with their min-max."""
    rows = []
    for name, b in doc["attacks"].items():
        rows.append({"attack": name, "variant": b["label"], "AUC": _ms(b, "auc"),
                     "TPR@1%FPR": _ms(b, "tpr_at_1pct_fpr"), "TPR@0.1%FPR": _ms(b, "tpr_at_0.1pct_fpr"),
                     "TPR@0.1%FPR min-max": f"{b['tpr_at_0.1pct_fpr']['min']:.4f}-{b['tpr_at_0.1pct_fpr']['max']:.4f}",
                     "targets": len(b["per_target"])})
    return pd.DataFrame(rows).set_index("attack")


def curve_table(doc: dict, key: str = "tpr_at_0.1pct_fpr") -> pd.DataFrame:
    """Rows: number of references; columns: attacks; cells: the mean over targets of ``key``."""
    data = {name: {int(r): v[key]["mean"] for r, v in by_r.items()} for name, by_r in doc["curve"].items()}
    out = pd.DataFrame(data)
    out.index.name = "references"
    return out


def reproducibility_table(doc: dict) -> pd.DataFrame:
    """Per attack and FPR level (threshold set on the references): the realized FPR on the targets, the share
    of records flagged by >= 90% of the targets that trained on them, and the Jaccard overlaps."""
    rows = []
    for name, b in doc["attacks"].items():
        for level, r in b["reproducibility"].items():
            rows.append({"attack": name, "threshold for": level, "realized FPR (mean)": r["realized_fpr"]["mean"],
                         "flagged by ≥90% of IN targets": r["share_reliable"], "of records": r["n_eligible"],
                         "Jaccard (all flagged)": r["jaccard_all"], "Jaccard (members of both)": r["jaccard_members"]})
    return pd.DataFrame(rows).set_index(["attack", "threshold for"])


def precision_table(doc: dict, level: str | None = None) -> pd.DataFrame:
    """PPV at every prior (threshold set on the references for the FPR ``level``; None: the smallest), with its
    95% interval and the oracle's PPV at the same FPR."""
    rows = []
    for name, b in doc["attacks"].items():
        lvl = level or min(b["precision"], key=lambda k: float(k.split("=")[1]))
        p = b["precision"][lvl]
        row = {"attack": name, "threshold for": lvl, "TPR": p["tpr"], "FPR": p["fpr"]}
        for pi, v in p["priors"].items():
            row[f"PPV π={float(pi):g}"] = f"{v['ppv']:.3f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"
            row[f"oracle π={float(pi):g}"] = round(v["oracle_ppv"], 3)
        rows.append(row)
    return pd.DataFrame(rows).set_index("attack")


def shokri_protocol_table(doc: dict, attacks_json: dict | None) -> pd.DataFrame | None:
    """The same attacks in the Shokri protocol at the pool's size (one target, 10 OUT shadows), beside the
    pool's mean over targets; None when ``attacks.json`` has no such size."""
    size = str(doc["pool"]["size"])
    if not attacks_json or size not in attacks_json.get("sizes", {}):
        return None
    blocks = attacks_json["sizes"][size]
    rows = []
    for name, b in doc["attacks"].items():
        offline = name.replace("online", "offline")
        s = blocks.get(name) or blocks.get(offline)
        rows.append({"attack (pool)": name, "pool TPR@0.1%FPR": b["tpr_at_0.1pct_fpr"]["mean"],
                     "pool AUC": b["auc"]["mean"],
                     "Shokri protocol attack": name if name in blocks else (offline if s else "—"),
                     "Shokri TPR@0.1%FPR": s["tpr_at_0.1pct_fpr"] if s else float("nan"),
                     "Shokri AUC": s["auc"] if s else float("nan")})
    return pd.DataFrame(rows).set_index("attack (pool)")


def markdown_pool(doc: dict, curve_attacks: tuple[str, ...] = ("lira_online", "lira_offline", "rmia_online",
                                                                  "rmia_offline")) -> str:
    """The pool's results as Markdown: the attacks over the targets, the power curve (TPR@0.1%FPR with AUC in
    brackets) and, per attack and FPR level, the reproducibility and the precision at a 1% prior."""
    def ms(b, k, d):
        return f"{b[k]['mean']:.{d}f} ± {b[k]['std']:.{d}f}"

    n_neg = doc["pool"]["size"]
    lines = ["| attack | AUC | TPR@1%FPR | TPR@0.1%FPR (min–max over targets) |", "|---|---|---|---|"]
    for name, b in doc["attacks"].items():
        t = b["tpr_at_0.1pct_fpr"]
        lines.append(f"| `{name}` ({b['label']}) | {ms(b, 'auc', 3)} | {ms(b, 'tpr_at_1pct_fpr', 4)} | "
                     f"{ms(b, 'tpr_at_0.1pct_fpr', 4)} ({t['min']:.4f}–{t['max']:.4f}) |")
    lines += ["", f"Mean ± standard deviation over the targets; each TPR@0.1%FPR rests on {int(n_neg * 0.001)} allowed "
              f"false positive(s) per target ({n_neg:,} non-members).", "",
              "Attack power against the number of references (TPR@0.1%FPR, mean over targets; AUC in brackets):", "",
              "| references | " + " | ".join(f"`{a}`" for a in curve_attacks) + " |",
              "|---|" + "---|" * len(curve_attacks)]
    counts = sorted({int(r) for a in curve_attacks for r in doc["curve"][a]})
    for r in counts:
        cells = [f"{doc['curve'][a][str(r)]['tpr_at_0.1pct_fpr']['mean']:.4f} "
                 f"({doc['curve'][a][str(r)]['auc']['mean']:.3f})" for a in curve_attacks]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    lines += ["", "Reproducibility and precision (thresholds set on the references):", "",
              "| attack | threshold for | realized FPR | flagged by ≥ 90% of the targets that trained on it | "
              "Jaccard (all flagged) | PPV at π = 1% [95% interval] | oracle PPV at π = 1% |",
              "|---|---|---|---|---|---|---|"]
    for name, b in doc["attacks"].items():
        for level, r in b["reproducibility"].items():
            p = b["precision"][level]["priors"]["0.01"]
            lines.append(f"| `{name}` | {level.split('=')[1]} | {r['realized_fpr']['mean']:.4f} | "
                         f"{r['share_reliable']:.3f} of {r['n_eligible']:,} | {r['jaccard_all']:.3f} | "
                         f"{p['ppv']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}] | {p['oracle_ppv']:.3f} |")
    return "\n".join(lines)
