"""The canary audit's tables and figures, from ``audit.json``: per model the accountant's ε beside the valid
one-run bounds (white-box canaries by the sum and by the likelihood-ratio score, black-box canaries), the
natural-record bound and what an ideal run of the same mechanism could show (median, 10–90% band, cap);
and the f-DP (Gaussian) estimates beside the accountant's μ."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mia_repro.reporting.plots import _finish, draw_all


def _footer(doc: dict) -> str:
    a = doc["audit"]
    return (f"profile {doc.get('profile')} · n = {a['size']:,} · {a['canaries']} white-box and "
            f"{a['blackbox_canaries']} black-box canaries per model · "
            f"{doc.get('epochs')} epochs · backend {doc.get('backend')} · {doc.get('device')} · seed {doc.get('seed')} · "
            f"bounds at {a['confidence']:.0%} confidence · ideal bands from {a.get('ceiling_trials')} simulated runs")


def _num(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _band(ceiling: dict, score: str, what: str = "epsilon") -> str:
    """``median [p10–p90]`` of an ideal run's ``what`` for ``score``, or — where not defined."""
    b = ceiling.get(score)
    if b is None:
        return "—"
    b = b[what]
    return f"{b['median']:.2f} [{b['p10']:.2f}–{b['p90']:.2f}]"


def _claim(r: dict) -> str:
    return "∞ (σ = 0)" if r["claimed_epsilon"] is None else f"{r['claimed_epsilon']:.2f} / {r['epsilon_pld']:.2f}"


def audit_table(doc: dict) -> pd.DataFrame:
    """One row per model: trainer, accountant's ε (RDP / PLD), σ, test accuracy; the white-box one-run bound
    of the sum and of the likelihood-ratio score, each beside an ideal run's median [10–90%]; the cap; the
    black-box and natural-record bounds; and whether a bound exceeds the claim (at the family's confidence)."""
    rows = []
    for r in doc["rows"]:
        c = r["ceiling"]
        rows.append({"model": r["label"], "trainer": r["trainer"], "accountant ε RDP / PLD": _claim(r),
                     "σ told the accountant": round(r["noise_multiplier"], 3), "test acc": round(r["test_acc"], 3),
                     "bound: sum score": _num(r["one_run_epsilon_lower_bound"]),
                     "ideal run: sum": _band(c, "sum"),
                     "bound: likelihood ratio": _num(r["lr_epsilon_lower_bound"]),
                     "ideal run: likelihood ratio": _band(c, "lr"),
                     "cap (all right)": _num(r["epsilon_cap"]),
                     "black-box bound": _num(r["blackbox_epsilon_lower_bound"]),
                     "natural-record bound": _num(r["natural_epsilon_lower_bound"]),
                     "a bound exceeds the claim": "yes" if r["exceeds_claim"] else "no"})
    return pd.DataFrame(rows).set_index("model")


def gdp_table(doc: dict) -> pd.DataFrame:
    """One row per model: the accountant's μ by the central limit theorem, the f-DP (Gaussian) μ bound of each
    white-box score with the ε it implies at δ, an ideal run's μ [10–90%] and the μ cap."""
    rows = []
    for r in doc["rows"]:
        c = r["ceiling"]
        rows.append({"model": r["label"], "accountant ε": _claim(r).split(" / ")[0],
                     "accountant μ (CLT)": "∞" if r["clt_mu"] is None else f"{r['clt_mu']:.3f}",
                     "μ bound: sum (ε at δ)": f"{r['gdp_mu_lower_bound']:.3f} ({r['gdp_epsilon_estimate']:.2f})",
                     "ideal run μ: sum": _band(c, "sum", "gdp_mu"),
                     "μ bound: likelihood ratio (ε at δ)": "—" if r["lr_gdp_mu_lower_bound"] is None else
                     f"{r['lr_gdp_mu_lower_bound']:.3f} ({r['lr_gdp_epsilon_estimate']:.2f})",
                     "ideal run μ: likelihood ratio": _band(c, "lr", "gdp_mu"),
                     "μ cap (ε at δ)": f"{r['gdp_mu_cap']:.3f} ({r['gdp_epsilon_cap']:.2f})"})
    return pd.DataFrame(rows).set_index("model")


def _names(rows: list[dict]) -> list[str]:
    return [r["label"].replace("broken_", "broken:\n").replace("_claims_", "\nclaims ") for r in rows]


def _ideal(ax, x: float, band: dict | None, color: str) -> None:
    """An ideal run's 10–90% band (a vertical line) and median (a diamond) at ``x``."""
    if band is None:
        return
    ax.plot([x, x], [band["p10"], band["p90"]], color="k", lw=1.2, zorder=3)
    ax.plot([x], [band["median"]], marker="D", ms=4, color=color, mec="k", zorder=4, ls="none")


def audit_figure(doc: dict, path: Path | str | None = None, footer: str | None = None):
    """Bars per model: the accountant's ε (hatched; none for σ = 0), the white-box bounds (sum and likelihood
    ratio) each with an ideal run's median and 10–90% band, the black-box and natural-record bounds, and the
    cap of the model's canaries (a dash)."""
    rows = doc["rows"]
    fig, ax = plt.subplots(figsize=(max(7.5, 1.3 * len(rows) + 2.5), 4.8))
    x = np.arange(len(rows))
    w = 0.16
    claimed = [r["claimed_epsilon"] or 0.0 for r in rows]
    ax.bar(x - 2 * w, claimed, w, color="0.85", edgecolor="0.3", hatch="//", label="accountant's ε (RDP)")
    ax.bar(x - w, [r["one_run_epsilon_lower_bound"] for r in rows], w, color="C3", label="white-box bound, sum score")
    ax.bar(x, [r["lr_epsilon_lower_bound"] or 0.0 for r in rows], w, color="C4",
           label="white-box bound, likelihood-ratio score")
    ax.bar(x + w, [r["blackbox_epsilon_lower_bound"] for r in rows], w, color="C1", label="black-box bound")
    ax.bar(x + 2 * w, [r["natural_epsilon_lower_bound"] for r in rows], w, color="C0",
           label="natural-record bound (loss attack)")
    for i, r in enumerate(rows):
        c = r["ceiling"]
        _ideal(ax, i - w, c["sum"]["epsilon"], "C3")
        _ideal(ax, i, None if c.get("lr") is None else c["lr"]["epsilon"], "C4")
        ax.plot([i - 2.5 * w, i + 2.5 * w], [r["epsilon_cap"]] * 2, color="0.2", ls="--", lw=1)
        if r["claimed_epsilon"] is None:
            ax.text(i - 2 * w, 0.05, "∞", ha="center", va="bottom", fontsize=9)
        if r["lr_epsilon_lower_bound"] is None:
            ax.text(i, 0.05, "—", ha="center", va="bottom", fontsize=8)
    ax.plot([], [], marker="D", ms=4, color="w", mec="k", ls="-", lw=1.2, label="an ideal run: median, 10–90%")
    ax.plot([], [], color="0.2", ls="--", lw=1, label="cap: every guess right")
    ax.set_xticks(x, _names(rows), fontsize=7)
    ax.set_ylabel("ε")
    ax.set_title("What the audit proves (valid lower bounds), what an ideal run could, and the accountant's claim")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _finish(fig, doc, path, _footer(doc) if footer is None else footer)


def gdp_figure(doc: dict, path: Path | str | None = None, footer: str | None = None):
    """Bars per model: the accountant's μ by the central limit theorem (hatched; none for σ = 0), the f-DP μ
    bound of each white-box score with an ideal run's median and 10–90% band, and the μ cap (a dash)."""
    rows = doc["rows"]
    fig, ax = plt.subplots(figsize=(max(7.5, 1.1 * len(rows) + 2.5), 4.6))
    x = np.arange(len(rows))
    w = 0.25
    finite = [r["clt_mu"] for r in rows if r["clt_mu"] is not None]
    top = max([*finite, *(r["gdp_mu_cap"] for r in rows)]) * 1.1
    ax.bar(x - w, [min(r["clt_mu"], top) if r["clt_mu"] is not None else 0.0 for r in rows], w, color="0.85",
           edgecolor="0.3", hatch="//", label="accountant's μ (central limit)")
    ax.bar(x, [r["gdp_mu_lower_bound"] for r in rows], w, color="C3", label="μ bound, sum score")
    ax.bar(x + w, [r["lr_gdp_mu_lower_bound"] or 0.0 for r in rows], w, color="C4", label="μ bound, likelihood ratio")
    for i, r in enumerate(rows):
        c = r["ceiling"]
        _ideal(ax, i, c["sum"]["gdp_mu"], "C3")
        _ideal(ax, i + w, None if c.get("lr") is None else c["lr"]["gdp_mu"], "C4")
        ax.plot([i - 1.5 * w, i + 1.5 * w], [r["gdp_mu_cap"]] * 2, color="0.2", ls="--", lw=1)
        if r["clt_mu"] is None:
            ax.text(i - w, 0.02, "∞", ha="center", va="bottom", fontsize=9)
    ax.plot([], [], marker="D", ms=4, color="w", mec="k", ls="-", lw=1.2, label="an ideal run: median, 10–90%")
    ax.plot([], [], color="0.2", ls="--", lw=1, label="cap: every guess right")
    ax.set_xticks(x, _names(rows), fontsize=7)
    ax.set_ylabel("μ of μ-GDP")
    ax.set_ylim(0, top)
    ax.set_title("f-DP (Gaussian) one-run estimates beside the accountant's μ")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _finish(fig, doc, path, _footer(doc) if footer is None else footer)


def audit_figures(doc: dict, out_dir: Path, close: bool = True) -> dict:
    return draw_all({"fig_audit_one_run.png": audit_figure, "fig_audit_gdp.png": gdp_figure}, (doc,), out_dir, close)


def _markdown(df: pd.DataFrame) -> str:
    cols = ["model", *df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, row in df.iterrows():
        lines.append(f"| `{name}` | " + " | ".join(str(v) for v in row.values) + " |")
    return "\n".join(lines)


def markdown_audit(doc: dict) -> str:
    """:func:`audit_table` as a Markdown table."""
    return _markdown(audit_table(doc))


def markdown_gdp(doc: dict) -> str:
    """:func:`gdp_table` as a Markdown table."""
    return _markdown(gdp_table(doc))
