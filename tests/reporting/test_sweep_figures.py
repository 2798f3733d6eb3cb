"""Figures fit what ran: every mitigation figure drawn for an L2-only, a dropout-only and a DP-only sweep
(the committed quick sweep, filtered) has data in every panel and no figure for what did not run."""
import json

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mia_repro.base.paths import PROJECT_ROOT  # noqa: E402
from mia_repro.reporting.mitigation_plots import mitigation_figures  # noqa: E402

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


def _legend_inside_an_axes(fig) -> bool:
    """Whether a legend's box overlaps the data area of any axes (drawn, in display coordinates)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return any(leg.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
               for leg in legends for ax in fig.axes)


@pytest.mark.parametrize("sizes", [("2500", "5000", "10000", "15000"), ("2500", "5000", "10000")], ids=["4", "3"])
def test_attack_roc_is_a_grid_of_two_columns_with_its_legend_outside(sizes, tmp_path):
    """Page-width: two columns (2×2 for four sizes), no empty panel for an odd count, one legend outside the
    data naming every attack with its AUC at each size."""
    from mia_repro.base.cache import load_npz
    from mia_repro.experiment.layout import Layout
    from mia_repro.reporting.compare_plots import attacks_roc

    result = json.loads((QUICK / "attacks.json").read_text())
    result["sizes"] = {n: result["sizes"][n] for n in sizes}
    scores = {n: {a: load_npz(Layout.at(QUICK).compared_scores(a, n)) for a in b} for n, b in result["sizes"].items()}
    fig = attacks_roc(result, scores, tmp_path / "roc.png")
    assert len(fig.axes) == len(sizes)
    assert len({round(ax.get_position().x0, 2) for ax in fig.axes}) == 2  # two columns
    assert fig.get_figwidth() <= 10.5
    for ax in fig.axes:
        assert _data_artists(ax) >= len(result["sizes"][sizes[0]]), ax.get_title()
    assert not _legend_inside_an_axes(fig)
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == 12 and all(t.count(" / ") == len(sizes) - 1 for t in texts)


def test_mitigation_figures_draw_the_auc_intervals_of_the_rows(tmp_path):
    """The AUC panels carry error bars: the Hanley-McNeil interval of each row (auc, size, n_nonmembers)."""
    from mia_repro.evaluation.metrics import auc_interval
    from mia_repro.reporting.mitigation_plots import auc_errors

    records = json.loads((QUICK / "mitigation.json").read_text())
    meta = json.loads((QUICK / "mitigation_meta.json").read_text())
    row = records[0]
    err = auc_errors([row, None])
    lo, hi = auc_interval(row["auc"], row["size"], row["n_nonmembers"])
    assert err[:, 0] == pytest.approx([row["auc"] - lo, hi - row["auc"]]) and err[0, 1] != err[0, 1]
    figs = mitigation_figures(records, meta, tmp_path, close=False)
    for name in ("fig_mitigation_vs_strength.png", "fig_mitigation_bars.png", "fig_privacy_utility.png"):
        assert any(len(ax.containers) for ax in figs[name].axes), name
        assert not _legend_inside_an_axes(figs[name]), name
