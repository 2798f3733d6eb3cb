"""The canary audit's table and figure, from ``audit.json``: per model the accountant's ε beside the valid
one-run (white-box canaries) and natural-record lower bounds, the broken trainers' rows included."""
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
            f"bounds at {a['confidence']:.0%} confidence")


def audit_table(doc: dict) -> pd.DataFrame:
    """One row per model: trainer, accountant's ε (RDP / PLD), δ, σ, test accuracy, the one-run bound with its
    guesses, the natural-record bound, and whether a bound exceeds the claim."""
    rows = []
    for r in doc["rows"]:
        claim = "∞ (σ = 0)" if r["claimed_epsilon"] is None else f"{r['claimed_epsilon']:.2f} / {r['epsilon_pld']:.2f}"
        rows.append({"model": r["label"], "trainer": r["trainer"], "accountant ε RDP / PLD": claim,
                     "δ": f"{r['delta']:g}", "σ told the accountant": round(r["noise_multiplier"], 3),
                     "test acc": round(r["test_acc"], 3),
                     "one-run bound (white-box)": round(r["one_run_epsilon_lower_bound"], 3),
                     "guesses right / made": f"{r['one_run_correct']}/{r['one_run_guesses']}",
                     "one-run bound (black-box)": round(r["blackbox_epsilon_lower_bound"], 3),
                     "natural-record bound (loss)": round(r["natural_epsilon_lower_bound"], 3),
                     "a bound exceeds the claim": "yes" if r["exceeds_claim"] else "no"})
    return pd.DataFrame(rows).set_index("model")


def audit_figure(doc: dict, path: Path | str | None = None, footer: str | None = None):
    """Bars per model: the accountant's ε (hatched; none for σ = 0), the one-run bound and the natural-record bound."""
    rows = doc["rows"]
    fig, ax = plt.subplots(figsize=(max(6.5, 1.1 * len(rows) + 2), 4.6))
    x = np.arange(len(rows))
    claimed = [r["claimed_epsilon"] or 0.0 for r in rows]
    w = 0.2
    ax.bar(x - 1.5 * w, claimed, w, color="0.85", edgecolor="0.3", hatch="//", label="accountant's ε (RDP)")
    ax.bar(x - 0.5 * w, [r["one_run_epsilon_lower_bound"] for r in rows], w, color="C3",
           label="one-run bound, white-box canaries")
    ax.bar(x + 0.5 * w, [r["blackbox_epsilon_lower_bound"] for r in rows], w, color="C1",
           label="one-run bound, black-box canaries")
    ax.bar(x + 1.5 * w, [r["natural_epsilon_lower_bound"] for r in rows], w, color="C0",
           label="natural-record bound (loss attack)")
    for i, r in enumerate(rows):
        if r["claimed_epsilon"] is None:
            ax.text(i - 1.5 * w, 0.05, "∞", ha="center", va="bottom", fontsize=9)
    names = [r["label"].replace("broken_", "broken:\n").replace("_claims_", "\nclaims ") for r in rows]
    ax.set_xticks(x, names, fontsize=7)
    ax.set_ylabel("ε")
    ax.set_title("What the audit proves (valid lower bounds) beside what the accountant claims")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _finish(fig, doc, path, _footer(doc) if footer is None else footer)


def audit_figures(doc: dict, out_dir: Path, close: bool = True) -> dict:
    return draw_all({"fig_audit_one_run.png": audit_figure}, (doc,), out_dir, close)


def markdown_audit(doc: dict) -> str:
    """:func:`audit_table` as a Markdown table."""
    df = audit_table(doc)
    cols = ["model", *df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, row in df.iterrows():
        lines.append(f"| `{name}` | " + " | ".join(str(v) for v in row.values) + " |")
    return "\n".join(lines)
