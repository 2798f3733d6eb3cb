"""The mitigation sweep's tables: one row per defense setting and scenario (the unaware and the aware
attacker), the attacks beside Shokri's, and DP-SGD's ε (accountant and audit) beside its utility."""
from __future__ import annotations

import pandas as pd

from mia_repro.evaluation.metrics import Metric


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


__all__ = ["DEFENSE_ORDER", "markdown_dp", "markdown_mitigation", "markdown_mitigation_attacks", "mitigation_attacks_table", "mitigation_table", "precision_text", "strength_text"]
