"""Tables for notebooks and the README, as ``pandas.DataFrame`` built from stage outputs.

:func:`run_meta` (from :mod:`mia_repro.experiment.provenance`) is here too: the provenance block (profile,
sizes, epochs, shadows, backend, seed) that every JSON output and figure carries.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from mia_repro.experiment.config import ExperimentConfig
from mia_repro.data.cifar10 import CLASS_NAMES
from mia_repro.experiment.provenance import run_meta  # noqa: F401 (the notebooks' provenance block)
from mia_repro.training import backend_info, choose_trainer
from mia_repro.metrics import Metric


def config_table(cfg: ExperimentConfig) -> pd.DataFrame:
    """Every setting of ``cfg`` as (section, field, value) rows."""
    rows = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            rows += [(f.name, g.name, getattr(value, g.name)) for g in dataclasses.fields(value)]
        else:
            rows.append(("experiment", f.name, value))
    return pd.DataFrame(rows, columns=["section", "field", "value"]).astype({"value": str})


def dataset_table(y: np.ndarray) -> pd.DataFrame:
    """Records per class of the pooled dataset (``y`` int (N,))."""
    counts = np.bincount(y, minlength=len(CLASS_NAMES))
    return pd.DataFrame({"class": CLASS_NAMES, "records": counts})


def splits_table(splits_by_size: dict) -> pd.DataFrame:
    """Per size: record counts and the disjointness checks of :func:`mia_repro.data.splits.make_splits`."""
    rows = []
    for size, s in splits_by_size.items():
        target = np.concatenate([s.target.members, s.target.nonmembers])
        shadow_all = np.concatenate([np.concatenate([sh.members, sh.nonmembers]) for sh in s.shadows]) if s.shadows else np.array([], int)
        rows.append({
            "size n": size,
            "target members": len(s.target.members),
            "target non-members": len(s.target.nonmembers),
            "shadow pool": len(s.pool),
            "shadows": len(s.shadows),
            "shadow ∩ target": int(np.intersect1d(shadow_all, target).size),
            "distinct shadow records": int(np.unique(shadow_all).size),
        })
    return pd.DataFrame(rows)


def stage1_table(stage1: dict) -> pd.DataFrame:
    """One row per trained model: size, model, train/test accuracy, gap, seconds, trainer."""
    rows = []
    for size, so in sorted(stage1.items()):
        for m in [so.target, *so.shadows]:
            rows.append({"size n": size, "model": m.name, "train acc": m.train_acc, "test acc": m.test_acc,
                         "gap": m.train_acc - m.test_acc, "seconds": m.seconds, "trainer": m.trainer})
    return pd.DataFrame(rows)


def _seed_sd(spread: dict | None, n: str, *path: str) -> dict:
    """The seed-to-seed standard deviation columns of one row from :func:`~mia_repro.reporting.spread.spread_for`'s
    ``spread`` (none without a seed run covering size ``n``)."""
    block = (spread or {}).get("sizes", {}).get(str(n))
    for p in path:
        block = (block or {}).get(p)
    if not block:
        return {}
    seeds = len(spread["seeds"])
    return {f"AUC sd ({seeds} seeds)": block["auc"]["std"],
            f"TPR@0.1%FPR sd ({seeds} seeds)": block[Metric.TPR_AT_0_1PCT_FPR]["std"]}


def attack_table(summary: dict, spread: dict | None = None) -> pd.DataFrame:
    """Per size: target accuracy, SVM attack metrics and the threshold baseline's; with ``spread``
    (:func:`~mia_repro.reporting.spread.spread_for` ``(cfg, "summary")``) the SVM's seed-to-seed spread."""
    rows = []
    for n, b in summary["sizes"].items():
        a, t = b["attack"], b["baseline"]
        rows.append({
            "size n": int(n), "target train acc": b["target"]["train_acc"], "target test acc": b["target"]["test_acc"],
            "SVM precision": a["precision"], "SVM recall": a["recall"], "SVM accuracy": a["accuracy"],
            "SVM AUC": a[Metric.AUC], "SVM TPR@1%FPR": a[Metric.TPR_AT_1PCT_FPR], "SVM TPR@0.1%FPR": a[Metric.TPR_AT_0_1PCT_FPR],
            "threshold precision": t["precision"], "threshold recall": t["recall"],
            "threshold accuracy": t["accuracy"], "threshold AUC": t["auc"],
            "grid edge hits": a.get("grid_edge_hits", 0), **_seed_sd(spread, n, "svm"),
        })
    return pd.DataFrame(rows)


def per_class_table(summary: dict, size: int | str) -> pd.DataFrame:
    """Per class of one size: SVM precision/recall/accuracy/AUC, chosen C and gamma, edge hit."""
    pc = summary["sizes"][str(size)]["attack"]["per_class"]
    cols = {k: pc[k] for k in ("precision", "recall", "accuracy", "auc", "C", "gamma", "edge_hit") if k in pc}
    return pd.DataFrame({"class": CLASS_NAMES, **cols})


#: Rows of the mitigation tables: undefended first, then training-time, then output-side defenses.
DEFENSE_ORDER = {d: i for i, d in enumerate(["none", "l2", "dropout", "topk", "rounding", "temperature", "dp"])}


def mitigation_table(records: list[dict], threshold_records: list[dict] | None = None) -> pd.DataFrame:
    """Test accuracy and attack AUC / precision per (defense, strength, size), both scenarios side by side."""
    df = pd.DataFrame(records)
    wide = df.pivot_table(index=["size", "defense", "strength"], columns="scenario",
                          values=["auc", "precision"], aggfunc="first")
    wide.columns = [f"SVM {m} ({s})" for m, s in wide.columns]
    acc = df.groupby(["size", "defense", "strength"])[["target_train_acc", "target_test_acc"]].first()
    out = acc.join(wide)
    if threshold_records:
        t = pd.DataFrame(threshold_records).pivot_table(index=["size", "defense", "strength"], columns="scenario",
                                                        values="auc", aggfunc="first")
        t.columns = [f"threshold auc ({s})" for s in t.columns]
        out = out.join(t)
    out = out.reset_index()
    out["_o"] = out["defense"].map(DEFENSE_ORDER)
    out = out.sort_values(["size", "_o", "strength"]).drop(columns="_o").reset_index(drop=True)
    out["strength"] = out["strength"].map(strength_text)  # text: .round(3) must not show 1e-4 as 0.000
    return out


def strength_text(s: float) -> str:
    """A defense strength as the reports print it: ``f"{s:g}"`` (1e-4 -> "0.0001", never "0.000")."""
    return f"{float(s):g}"


def mitigation_attacks_table(meta: dict, attacks: tuple[str, ...] = ("lira_offline", "rmia_offline",
                                                                  "calibrated_loss", "loss_threshold")) -> pd.DataFrame:
    """Today's attacks on the trained defenses (``mitigation_meta.json``'s ``attack_comparison``): per (size,
    defense, strength) and attack, AUC and TPR at 0.1% FPR for the aware and the unaware attacker."""
    rows = [r for r in meta.get("attack_comparison", []) if r["attack"] in attacks]
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    wide = df.pivot_table(index=["size", "defense", "strength"], columns=["attack", "scenario"],
                          values=[Metric.AUC, Metric.TPR_AT_0_1PCT_FPR], aggfunc="first")
    wide.columns = [f"{a} {'TPR@0.1%' if m != 'auc' else 'AUC'} ({s})" for m, a, s in wide.columns]
    wide = wide.reset_index()
    wide["_o"] = wide["defense"].map(DEFENSE_ORDER)
    cols = ["size", "defense", "strength"] + sorted(c for c in wide.columns if c not in ("size", "defense", "strength", "_o"))
    out = wide.sort_values(["size", "_o", "strength"])[cols].reset_index(drop=True)
    out["strength"] = out["strength"].map(strength_text)
    return out


def _pair(a: dict | None, u: dict | None, key: str, digits: int) -> str:
    """``key`` of the aware and the unaware row as "aware / unaware" ("—" for a row that was not run)."""
    return " / ".join(f"{r[key]:.{digits}f}" if r else "—" for r in (a, u))


def precision_text(r: dict | None) -> str:
    """A row's precision, or "none called" when its attack called no record a member (recall 0 and advantage 0:
    TPR = FPR = 0, where precision is undefined, not 0); "—" for a row that was not run."""
    if r is None:
        return "—"
    if r.get(Metric.RECALL, 1) == 0 and r.get(Metric.ADVANTAGE_AT_DECISION, 1) == 0:
        return "none called"
    return f"{r['precision']:.3f}"


def _precision_pair(a: dict | None, u: dict | None) -> str:
    return " / ".join(precision_text(r) for r in (a, u))


def markdown_mitigation_attacks(records: list[dict], meta: dict) -> str:
    """The README's table of the trained defenses: test accuracy, the SVM's precision / AUC and LiRA's and RMIA's
    TPR at 0.1% FPR, each "aware / unaware"."""
    svm = {(r["size"], r["defense"], r["strength"], r["scenario"]): r for r in records}
    cmp = {(r["size"], r["defense"], r["strength"], r["scenario"], r["attack"]): r
           for r in meta.get("attack_comparison", [])}
    keys = sorted({k[:3] for k in cmp}, key=lambda k: (k[0], DEFENSE_ORDER.get(k[1], 9), k[2]))
    lines = ["| n | defense | strength | train / test acc | SVM precision aware / unaware | SVM AUC aware / unaware "
             "| LiRA TPR@0.1%FPR aware / unaware | RMIA TPR@0.1%FPR aware / unaware |",
             "|---|---|---|---|---|---|---|---|"]
    for k in keys:
        a, u = svm.get((*k, "aware")), svm.get((*k, "unaware"))
        first = a or u
        cells = [f"{first['target_train_acc']:.3f} / {first['target_test_acc']:.3f}",
                 _precision_pair(a, u), _pair(a, u, "auc", 3)]
        for name in ("lira_offline", "rmia_offline"):
            cells.append(_pair(cmp.get((*k, "aware", name)), cmp.get((*k, "unaware", name)), Metric.TPR_AT_0_1PCT_FPR, 4))
        lines.append(f"| {k[0]:,} | {k[1]} | {k[2]:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_dp(records: list[dict], meta: dict) -> str:
    """The README's DP-SGD table: per size and target ε (and the undefended model), the accountant's ε (RDP /
    PLD), σ, target test accuracy, the SVM's precision and AUC, the best TPR at 0.1% FPR over every attack
    and the empirical lower bound on ε (best attack and threshold), each "aware / unaware"."""
    cmp = meta.get("attack_comparison", [])

    def row_of(size, defense, strength, scenario):
        hit = [r for r in records if (r["size"], r["defense"], r["strength"], r["scenario"]) == (size, defense, strength, scenario)]
        return hit[0] if hit else None

    def best_tpr(size, defense, strength, scenario) -> str:
        cands = [(r[Metric.TPR_AT_0_1PCT_FPR], r["attack"]) for r in cmp
                 if (r["size"], r["defense"], r["strength"], r["scenario"]) == (size, defense, strength, scenario)]
        svm = row_of(size, defense, strength, scenario)
        if svm:
            cands.append((svm[Metric.TPR_AT_0_1PCT_FPR], "shokri_svm"))
        if not cands:
            return "—"
        tpr, name = max(cands)
        return f"{tpr:.4f} ({name})"

    lines = ["| n | target ε | δ | ε RDP / PLD | σ | test acc | SVM precision aware / unaware | SVM AUC aware / unaware "
             "| best TPR@0.1%FPR aware; unaware | valid 95% ε lower bound aware; unaware |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    sizes = sorted({r["size"] for r in records if r["defense"] == "dp"})
    if not sizes:
        return "No DP-SGD settings in this sweep (`mitigation.dp_epsilons` is empty)."
    for size in sizes:
        settings = sorted({r["strength"] for r in records if r["size"] == size and r["defense"] == "dp"})
        for defense, strength in [("dp", e) for e in settings] + [("none", 0.0)]:
            a, u = row_of(size, defense, strength, "aware"), row_of(size, defense, strength, "unaware")
            first = a or u
            if first is None:
                continue
            if defense == "dp":
                head = [f"{strength:g}", f"{first['delta']:g}", f"{first['epsilon']:.2f} / {first['epsilon_pld']:.2f}",
                        f"{first['noise_multiplier']:.3f}"]
                bound = "; ".join(("0 (nothing proved)" if r["epsilon_lower_bound_attack"] is None else
                                   f"{r['epsilon_lower_bound']:.2f} ({r['epsilon_lower_bound_attack']})")
                                  if r else "—" for r in (a, u))
            else:
                head, bound = ["no DP", "—", "∞", "0"], "—"
            cells = head + [f"{first['target_test_acc']:.3f}", _precision_pair(a, u), _pair(a, u, "auc", 3),
                            "; ".join(best_tpr(size, defense, strength, sc) if r else "—"
                                      for sc, r in (("aware", a), ("unaware", u))), bound]
            lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ablation_table(rows: list[dict]) -> pd.DataFrame:
    """The rows of :func:`mia_repro.experiment.stage2.subsample_ablation`, with the change vs the first row."""
    df = pd.DataFrame(rows)
    for k in ("precision", "auc"):
        df[f"Δ{k} vs first"] = df[k] - df[k].iloc[0]
    return df.round(4)


def markdown_results(summary: dict) -> str:
    """The README's results table for one ``summary.json``: per size, target accuracy and attack metrics.

    AUC is the calibrated pooled AUC (the headline); "raw" pools the per-class
    decision values as they are; advantages: at the attack's decision / the
    maximum over thresholds.
    """
    head = ("| size n | target train acc | target test acc | SVM precision | SVM recall | SVM AUC (raw pooled, mean per class) "
            "| advantage at decision / max | SVM TPR@0.1%FPR [95% CI] | threshold precision | threshold AUC |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for n, b in summary["sizes"].items():
        a, t = b["attack"], b["baseline"]
        lines.append(f"| {int(n):,} | {b['target']['train_acc']:.3f} | {b['target']['test_acc']:.3f} | {a['precision']:.3f} "
                     f"| {a['recall']:.3f} | {a['auc']:.3f} ({a['auc_raw_pooled']:.3f}, {a['auc_mean_per_class']:.3f}) "
                     f"| {a[Metric.ADVANTAGE_AT_DECISION]:.3f} / {a[Metric.ADVANTAGE_MAX]:.3f} "
                     f"| {a[Metric.TPR_AT_0_1PCT_FPR]:.4f} {_ci(a, Metric.TPR_AT_0_1PCT_FPR)} | {t['precision']:.3f} | {t['auc']:.3f} |")
    return "\n".join(lines)


def difference_range(summary: dict, key: str, scale: float = 100.0) -> str:
    """``"+a to +b"``: the range over sizes of the SVM's ``key`` minus the threshold baseline's, from unrounded values.

    ``scale`` 100 gives points (percentage points for precision, AUC points).
    """
    diffs = [scale * (b["attack"][key] - b["baseline"][key]) for b in summary["sizes"].values()]
    return f"{min(diffs):+.2f} to {max(diffs):+.2f}"


def _ci(block: dict, key: str) -> str:
    lo, hi = block.get(f"{key}_ci95", [np.nan, np.nan])
    return f"[{lo:.4f}, {hi:.4f}]"


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
    ``a`` and ``gamma``, the fixed SVM's C and gamma) and the ties in its scores (:func:`~mia_repro.metrics.score_ties`)."""
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


def seed_table(seeds: dict) -> pd.DataFrame:
    """``seeds.json`` as rows (size, what, metric): every seed's value, mean, std and range."""
    rows = []
    for n, block in seeds["sizes"].items():
        for what in ("target_train_acc", "target_test_acc"):
            rows.append({"size n": int(n), "what": "target", "metric": what, **_spread_cols(block[what])})
        for metric, sp in block["svm"].items():
            rows.append({"size n": int(n), "what": "Stage II SVM", "metric": metric, **_spread_cols(sp)})
        for attack, metrics in block["attacks"].items():
            for metric, sp in metrics.items():
                rows.append({"size n": int(n), "what": attack, "metric": metric, **_spread_cols(sp)})
    return pd.DataFrame(rows)


def _spread_cols(sp: dict) -> dict:
    return {"values": ", ".join(f"{v:.4f}" for v in sp["values"]), "mean": sp["mean"], "std": sp["std"],
            "min": sp["min"], "max": sp["max"]}


def markdown_seeds(seeds: dict, size: int | str) -> str:
    """The README's seed-spread table of one size: each seed's value and mean ± std (ddof 1)."""
    block = seeds["sizes"][str(size)]
    ids = ", ".join(str(s) for s in seeds["seeds"])

    def cell(sp: dict, digits: int = 3) -> str:
        vals = " / ".join(f"{v:.{digits}f}" for v in sp["values"])
        return f"{vals} | {sp['mean']:.{digits}f} ± {sp['std']:.{digits}f}"

    lines = [f"| n = {int(size):,}, seeds {ids} | values | mean ± std |", "|---|---|---|",
             f"| target train acc | {cell(block['target_train_acc'])} |",
             f"| target test acc | {cell(block['target_test_acc'])} |"]  # Stage II's SVM is the shokri_svm row
    for name, m in block["attacks"].items():
        lines.append(f"| {name} AUC | {cell(m['auc'])} |")
        lines.append(f"| {name} TPR@1%FPR | {cell(m[Metric.TPR_AT_1PCT_FPR], 4)} |")
        lines.append(f"| {name} TPR@0.1%FPR | {cell(m[Metric.TPR_AT_0_1PCT_FPR], 4)} |")
    return "\n".join(lines)


def markdown_mitigation(records: list[dict], threshold_records: list[dict]) -> str:
    """The README's mitigation table: per (size, defense, strength) accuracy and SVM AUC aware / unaware,
    the threshold baseline's AUC in brackets ("—" where a scenario did not run)."""
    def key(r):
        return r["size"], r["defense"], r["strength"]

    svm = {(key(r), r["scenario"]): r for r in records}
    thr = {(key(r), r["scenario"]): r for r in threshold_records}
    lines = ["| n | defense | strength | train acc | test acc | AUC aware [threshold] | AUC unaware [threshold] |",
             "|---|---|---|---|---|---|---|"]
    for k in sorted({key(r) for r in records}, key=lambda k: (k[0], DEFENSE_ORDER.get(k[1], 9), k[2])):
        first = svm.get((k, "unaware")) or svm.get((k, "aware"))
        cells = []
        for scenario in ("aware", "unaware"):
            s, t = svm.get((k, scenario)), thr.get((k, scenario))
            cells.append(f"{s['auc']:.3f} [{t['auc']:.3f}]" if s and t else "—")
        lines.append(f"| {k[0]:,} | {k[1]} | {k[2]:g} | {first['target_train_acc']:.3f} | {first['target_test_acc']:.3f} "
                     f"| {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


#: Shokri et al. (S&P 2017), Fig. 4, CIFAR-10: median over the ten classes of the attack's precision, per
#: training size (read from the figure). The paper also reports recall close to 1 at every size and a target
#: test accuracy of about 0.6 at 15,000 records (its CNN trains for at most 100 epochs); it gives no AUC or
#: low-FPR figure.
PAPER_FIG4_MEDIAN_PRECISION = {2500: 0.78, 5000: 0.74, 10000: 0.72, 15000: 0.71}
PAPER_TEST_ACC = {15000: 0.6}


def paper_comparison_table(summaries: dict[str, dict], comparisons: dict[str, dict] | None = None) -> pd.DataFrame:
    """Per size, the paper's Fig. 4 values beside each run's: one row per (size, source).

    ``summaries``: ``{label: summary.json}`` (e.g. ``{"paper": ..., "quick": ...}``); each run gives the
    target's train/test accuracy, the SVM attack's median and pooled per-class precision, median
    per-class recall and calibrated pooled AUC. ``comparisons`` (``{label: attacks.json}``, optional) adds
    the untuned SVM's (``shokri_svm_fixed``) median class precision. The paper's row has NaN where it
    reports nothing.
    """
    comparisons = comparisons or {}
    sizes = sorted({int(n) for s in summaries.values() for n in s["sizes"]} | set(PAPER_FIG4_MEDIAN_PRECISION))
    rows = []
    for n in sizes:
        rows.append({"size n": n, "source": "Shokri et al. Fig. 4", "epochs": "≤100",
                     "target train acc": np.nan, "target test acc": PAPER_TEST_ACC.get(n, np.nan),
                     "median class precision": PAPER_FIG4_MEDIAN_PRECISION.get(n, np.nan),
                     "pooled precision": np.nan, "median class recall": 1.0, "AUC": np.nan})
        for label, s in summaries.items():
            b = s["sizes"].get(str(n))
            if b is None:
                continue
            a = b["attack"]
            fixed = comparisons.get(label, {}).get("sizes", {}).get(str(n), {}).get("shokri_svm_fixed")
            rows.append({"size n": n, "source": label, "epochs": s["epochs"],
                         "target train acc": b["target"]["train_acc"], "target test acc": b["target"]["test_acc"],
                         "median class precision": float(np.median(a["per_class"]["precision"])),
                         "pooled precision": a["precision"],
                         "median class recall": float(np.median(a["per_class"]["recall"])), "AUC": a["auc"],
                         "fixed SVM median class precision": float(np.nanmedian(fixed["per_class"]["precision"]))
                         if fixed else np.nan})
    return pd.DataFrame(rows)


def markdown_paper_comparison(summaries: dict[str, dict], comparisons: dict[str, dict] | None = None) -> str:
    """The README's paper-vs-runs table (:func:`paper_comparison_table`): "—" where a source reports nothing,
    "≈" on the paper's values that it gives only roughly (recall, test accuracy)."""
    cols = ["target train acc", "target test acc", "median class precision", "fixed SVM median class precision",
            "pooled precision", "median class recall", "AUC"]
    lines = ["| n | source | epochs | " + " | ".join(cols) + " |", "|---" * (len(cols) + 3) + "|"]
    for r in paper_comparison_table(summaries, comparisons).to_dict("records"):
        paper = r["source"].startswith("Shokri")
        cells = []
        for c in cols:
            v = r[c]
            if np.isnan(v):
                cells.append("—")
            elif paper:
                cells.append(f"≈{v:.1f}" if c in ("target test acc", "median class recall") else f"{v:.2f}")
            else:
                cells.append(f"{v:.3f}")
        lines.append(f"| {r['size n']:,} | {r['source']} | {r['epochs']} | " + " | ".join(cells) + " |")
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


def machines_table(summary: dict) -> pd.DataFrame:
    """Where a result's models were trained, from ``summary["stage1_trained_on"]``: one row per size and
    machine (trainer, backend, device, device name, Keras, models); empty for a summary without it."""
    unrecorded = {"backend": "not recorded in the model files (written before they kept the machine)"}
    return pd.DataFrame([{"size n": int(n), **row, **(unrecorded if row.get("backend") == "not recorded" else {})}
                         for n, rows in summary.get("stage1_trained_on", {}).items() for row in rows])
