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
