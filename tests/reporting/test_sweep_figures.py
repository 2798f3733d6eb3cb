"""Figures fit what ran: every mitigation figure drawn for an L2-only, a dropout-only and a DP-only sweep
(the committed quick sweep, filtered) has data in every panel and no figure for what did not run."""
import json

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mia_repro.paths import PROJECT_ROOT  # noqa: E402
from mia_repro.reporting.plots import mitigation_figures  # noqa: E402

QUICK = PROJECT_ROOT / "results" / "quick"
GUIDES = ("random guess", "tight audit", "lower bound =")


def _data_artists(ax) -> int:
    """Lines with data (not the reference lines), scatter collections and bars."""
    lines = [ln for ln in ax.lines if len(ln.get_xdata()) and not any(g in ln.get_label() for g in GUIDES)
             and ln.get_linestyle() != ":"]
    return len(lines) + len(ax.collections) + len(ax.patches)


@pytest.mark.parametrize("kept", [("l2",), ("dropout",), ("dp",)], ids=["L2-only", "dropout-only", "DP-only"])
def test_no_empty_panel_for_a_one_defense_sweep(kept, tmp_path):
    records = [r for r in json.loads((QUICK / "mitigation.json").read_text()) if r["defense"] in ("none", *kept)]
    meta = json.loads((QUICK / "mitigation_meta.json").read_text())
    meta["attack_comparison"] = [r for r in meta["attack_comparison"] if r["defense"] in ("none", *kept)]
    figs = mitigation_figures(records, meta, tmp_path, close=False)
    assert ("fig_mitigation_vs_strength.png" in figs) == (kept != ("dp",))
    assert ("fig_dp_audit.png" in figs) == (kept == ("dp",))
    for name, fig in figs.items():
        for ax in fig.axes:
            assert _data_artists(ax) > 0, (name, ax.get_title())
        assert (tmp_path / name).stat().st_size > 10_000
