"""The reference pool's tables, from ``pool.json``: the attacks over the leave-one-out targets, the power
curve, per-record reproducibility, precision at membership priors, the members called at a false-discovery
rate (pandas DataFrames), the comparison with the Shokri protocol's numbers at the same size (from
``attacks.json``), and per-record risk keyed by record id (from ``pool_scores.npz``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from mia_repro.evaluation.metrics import Metric


def _ms(block: dict, key: str) -> str:
    return f"{block[key]['mean']:.4f} ± {block[key]['std']:.4f}"


def attacks_table(doc: dict) -> pd.DataFrame:
    """One row per attack: AUC, TPR at 1% and 0.1% FPR as mean ± std over the targets, with their min-max."""
    rows = []
    for name, b in doc["attacks"].items():
        rows.append({"attack": name, "variant": b["label"], "AUC": _ms(b, "auc"),
                     "TPR@1%FPR": _ms(b, Metric.TPR_AT_1PCT_FPR), "TPR@0.1%FPR": _ms(b, Metric.TPR_AT_0_1PCT_FPR),
                     "TPR@0.1%FPR min-max": f"{b[Metric.TPR_AT_0_1PCT_FPR]['min']:.4f}-{b[Metric.TPR_AT_0_1PCT_FPR]['max']:.4f}",
                     "targets": len(b["per_target"])})
    return pd.DataFrame(rows).set_index("attack")


def curve_table(doc: dict, key: str = Metric.TPR_AT_0_1PCT_FPR) -> pd.DataFrame:
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
                         "share of records flagged by ≥90% of IN targets": r["share_reliable"],
                         "records (IN for ≥ 2 targets)": r["n_eligible"],
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


def fdr_table(doc: dict, kind: str = "calibrated") -> pd.DataFrame:
    """Per false-discovery rate q: the records Benjamini-Hochberg calls members (mean per target), the share of
    members called, and the realized FDR over all targets' calls and at its worst target (``kind``:
    "calibrated" or "gaussian" p-values)."""
    rows = []
    for level, r in doc["fdr"][kind].items():
        rows.append({"q": r["q"], "calls per target (mean)": float(np.mean(r["calls"])),
                     "share of members called (mean)": float(np.mean(r["tpr"])),
                     "realized FDR (all calls)": r["fdr_pooled"], "realized FDR (worst target)": r["max_fdr"]})
    return pd.DataFrame(rows).set_index("q")


def record_risk(scores: dict, attack: str) -> pd.DataFrame:
    """Per-record risk under ``attack``, one row per pool record indexed by its id (its index in the pooled
    dataset): the targets that trained on it (``n_in``), its mean score over them and over the others, its
    IN-flag rate at each FPR level of the score file, and the median p-value of "not a member" over the
    targets that trained on it; sorted by the mean score when IN, most exposed first (floats: no ties)."""
    keys = sorted(k for k in scores if k.startswith(f"{attack}/") and k.endswith("/score"))
    if not keys:
        raise KeyError(f"{attack}: no scores in this file (attacks: "
                       f"{sorted({k.split('/')[0] for k in scores if k.endswith('/score')})})")
    s = np.stack([scores[k] for k in keys])
    m = np.stack([scores[k.replace("/score", "/member")] for k in keys]).astype(bool)
    targets = [k.split("/")[1] for k in keys]
    with np.errstate(invalid="ignore"):
        frame = {"class": scores["true_class"], "n_in": m.sum(axis=0),
                 "mean score IN": np.where(m.any(axis=0), (s * m).sum(axis=0) / np.maximum(m.sum(axis=0), 1), np.nan),
                 "mean score OUT": np.where((~m).any(axis=0), (s * ~m).sum(axis=0) / np.maximum((~m).sum(axis=0), 1),
                                            np.nan)}
        for k in sorted(k for k in scores if k.startswith(f"{attack}/in_rate@")):
            frame[f"IN-flag rate ({k.split('@')[1]})"] = scores[k]
        if all(f"pvalue/{t}" in scores for t in targets):
            p = np.stack([scores[f"pvalue/{t}"] for t in targets])
            frame["median p-value IN"] = np.array([np.median(p[m[:, i], i]) if m[:, i].any() else np.nan
                                                   for i in range(p.shape[1])])
    out = pd.DataFrame(frame, index=pd.Index(np.asarray(scores["pool_indices"]), name="record id"))
    return out.sort_values("mean score IN", ascending=False, na_position="last", kind="stable")


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
        rows.append({"attack (pool)": name, "pool TPR@0.1%FPR": b[Metric.TPR_AT_0_1PCT_FPR]["mean"],
                     "pool AUC": b["auc"]["mean"],
                     "Shokri protocol attack": name if name in blocks else (offline if s else "—"),
                     "Shokri TPR@0.1%FPR": s[Metric.TPR_AT_0_1PCT_FPR] if s else float("nan"),
                     "Shokri AUC": s["auc"] if s else float("nan")})
    return pd.DataFrame(rows).set_index("attack (pool)")


PAIRS = (("lira_online_global", "lira_online"), ("lira_offline_global", "lira_offline"),
         ("rmia_online_tuned", "rmia_online"), ("rmia_offline_tuned", "rmia_offline"))


def _pair_sentences(doc: dict) -> list[str]:
    """Per pair of variants, which one caught more members at 0.1% FPR on this pool (mean over targets)."""
    out = []
    for first, other in PAIRS:
        if first in doc["attacks"] and other in doc["attacks"]:
            a, b = (doc["attacks"][n][Metric.TPR_AT_0_1PCT_FPR]["mean"] for n in (first, other))
            better, worse, hi, lo = (first, other, a, b) if a >= b else (other, first, b, a)
            out.append(f"`{better}` {hi:.4f} against `{worse}` {lo:.4f} (TPR@0.1%FPR).")
    return out


def warning_lines(doc: dict) -> list[str]:
    """The regime warnings, one line per attack: on the leave-one-out targets (the per-target counts as a
    range), then the power curve's (``doc["warnings"]``)."""
    out = []
    for name, block in doc["attacks"].items():
        infos = [t["info"] for t in block["per_target"] if isinstance(t.get("info"), dict) and t["info"].get("warning")]
        if infos:
            counts = sorted({i["references_per_record_median"] for i in infos})
            shown = f"{counts[0]:g}" if len(counts) == 1 else f"{counts[0]:g}-{counts[-1]:g}"
            out.append(f"leave-one-out: `{name}` on {len(infos)} of {len(block['per_target'])} targets: per-record "
                       f"variances from {shown} references per record and side (median), fewer than 16: unreliable "
                       f"(Carlini et al. 2022, Sec. VI-A); read the global-variance row")
    return out + [w for w in doc.get("warnings", []) if w.startswith("power curve:")]


def markdown_pool(doc: dict, curve_attacks: tuple[str, ...] | None = None) -> str:
    """The pool's results as Markdown: the attacks over the targets, the power curve (TPR@0.1%FPR with AUC in
    brackets; ``curve_attacks`` None: every attack of the curve), per attack and FPR level the
    reproducibility and the precision at a 1% prior, the FDR calls and the regime warnings."""
    def ms(b, k, d):
        return f"{b[k]['mean']:.{d}f} ± {b[k]['std']:.{d}f}"

    curve_attacks = tuple(doc["curve"]) if curve_attacks is None else curve_attacks
    n_neg = doc["pool"]["size"]
    allowed = n_neg * 0.001
    lines = ["| attack | AUC | TPR@1%FPR | TPR@0.1%FPR (min–max over targets) |", "|---|---|---|---|"]
    for name, b in doc["attacks"].items():
        t = b[Metric.TPR_AT_0_1PCT_FPR]
        lines.append(f"| `{name}` ({b['label']}) | {ms(b, 'auc', 3)} | {ms(b, Metric.TPR_AT_1PCT_FPR, 4)} | "
                     f"{ms(b, Metric.TPR_AT_0_1PCT_FPR, 4)} ({t['min']:.4f}–{t['max']:.4f}) |")
    lines += ["", f"Mean ± standard deviation over the targets; each TPR@0.1%FPR rests on at most {int(allowed)} "
              f"false positive(s) per target (0.1% of {n_neg:,} non-members is {allowed:g}).  Of each pair the first row is the variant the "
              f"rules pick: LiRA with a global variance (`variance=\"auto\"` below 64 references; here about "
              f"{(doc['pool']['n_models'] - 1) / 2:g} references per record and side), RMIA with its signal's "
              f"temperature chosen on the attacker's simulation; the row after it is the other variant.  "
              + " ".join(_pair_sentences(doc)), "",
              "Attack power against the number of references (TPR@0.1%FPR, mean over targets; AUC in brackets):", "",
              "| references | " + " | ".join(f"`{a}`" for a in curve_attacks) + " |",
              "|---|" + "---|" * len(curve_attacks)]
    counts = sorted({int(r) for a in curve_attacks for r in doc["curve"][a]})
    for r in counts:
        cells = [f"{doc['curve'][a][str(r)][Metric.TPR_AT_0_1PCT_FPR]['mean']:.4f} "
                 f"({doc['curve'][a][str(r)]['auc']['mean']:.3f})" for a in curve_attacks]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    lines += ["", "With one reference per record the variance has no degree of freedom: LiRA's score there is the "
              "difference of the target's logit-scaled confidence from the reference's (a calibrated confidence, "
              "not a Gaussian test).  A record with no OUT (or IN) reference among a few takes that side's average "
              "over every record.", "",
              "Reproducibility and precision (thresholds set on the references):", "",
              "| attack | threshold for | realized FPR | share of records flagged by ≥ 90% of the targets that "
              "trained on them (records IN for ≥ 2 targets) | Jaccard (all flagged) | PPV at π = 1% [95% interval] | "
              "oracle PPV at π = 1% |",
              "|---|---|---|---|---|---|---|"]
    for name, b in doc["attacks"].items():
        for level, r in b["reproducibility"].items():
            p = b["precision"][level]["priors"]["0.01"]
            lines.append(f"| `{name}` | {level.split('=')[1]} | {r['realized_fpr']['mean']:.4f} | "
                         f"{r['share_reliable']:.1%} (of {r['n_eligible']:,}) | {r['jaccard_all']:.3f} | "
                         f"{p['ppv']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}] | {p['oracle_ppv']:.3f} |")
    first = next(iter(doc["attacks"].values()))["precision"]
    lines += ["", f"PPV intervals: {next(iter(first.values())).get('interval', 'Jeffreys posteriors')} (the targets "
              "share their records, so their calls are not independent trials)."]
    if "fdr" in doc:
        lines += ["", "Records called members at a false-discovery rate q (Benjamini–Hochberg over the records' "
                  "p-values of \"not a member\" from the OUT references, calibrated on the attacker's simulation; "
                  "in brackets the same with Gaussian tail p-values), judged on the targets' known membership:", "",
                  "| q | calls per target (mean) | share of members called | realized FDR, all calls | "
                  "realized FDR, worst target |", "|---|---|---|---|---|"]
        cal, gau = doc["fdr"]["calibrated"], doc["fdr"]["gaussian"]
        for level, r in cal.items():
            g = gau[level]
            lines.append(f"| {r['q']:g} | {np.mean(r['calls']):.1f} ({np.mean(g['calls']):.1f}) | "
                         f"{np.mean(r['tpr']):.3f} ({np.mean(g['tpr']):.3f}) | {r['fdr_pooled']:.4f} "
                         f"({g['fdr_pooled']:.4f}) | {r['max_fdr']:.4f} ({g['max_fdr']:.4f}) |")
    if warned := warning_lines(doc):
        lines += ["", "Attacks run where they are known to be unreliable:", ""]
        lines += [f"- {w}" for w in warned]
    return "\n".join(lines)
