"""Plot helpers on results of one's own: str or Path, int or str size keys, the footer optional and explicit."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from mia_repro.reporting import compare_plots, plots, stage2_plots


def _own_summary(keys=int):
    block = {"target": {"train_acc": 0.9, "test_acc": 0.5},
             "attack": {"precision": 0.7, "recall": 0.8, "auc": 0.75, "per_class": {"precision": [0.7] * 10}},
             "baseline": {"precision": 0.6, "recall": 0.7, "auc": 0.7}}
    return {"sizes": {keys(400): block, keys(800): block}}


def _footer(fig):
    return [t.get_text() for t in fig.texts if t is not fig._suptitle]


@pytest.mark.parametrize("keys", [int, str])
@pytest.mark.parametrize("fn", [stage2_plots.per_class_precision, stage2_plots.precision_recall_vs_size, stage2_plots.target_accuracy])
def test_summary_plots_take_int_or_str_sizes_and_a_str_path_without_provenance(fn, keys, tmp_path):
    path = str(tmp_path / "sub" / "fig.png")
    fig = fn(_own_summary(keys), path)
    assert (tmp_path / "sub" / "fig.png").stat().st_size > 5_000
    assert _footer(fig) == []  # nothing to name: no footer, no KeyError
    fig = fn(_own_summary(keys), None, footer="my CNN, n = 400, seed 3")
    assert _footer(fig) == ["my CNN, n = 400, seed 3"]


def test_roc_curves_and_attacks_roc_take_int_keyed_scores():
    rng = np.random.default_rng(0)
    member = np.r_[np.ones(400, bool), np.zeros(400, bool)]
    s = {"member": member, "score": member + rng.normal(size=800)}
    stage2_plots.roc_curves(_own_summary(int), {400: s, 800: s})
    result = {"sizes": {400: {"lira_offline": {"auc": 0.8, "n_nonmembers": 400}}}}
    fig = compare_plots.attacks_roc(result, {400: {"lira_offline": s}})
    assert _footer(fig) == []


def test_generic_roc_of_name_to_member_and_score(tmp_path):
    rng = np.random.default_rng(1)
    member = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    fig = plots.roc({"lira_offline": (member, member * 2.0 + rng.normal(size=600)),
                     "my attack": (member.astype(int), rng.normal(size=600))}, tmp_path / "roc.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("LiRA offline (one-sided) (0.9") and labels[1].startswith("my attack (0.")
    assert (tmp_path / "roc.png").exists() and _footer(fig) == []
    with pytest.raises(ValueError, match="my attack"):
        plots.roc({"my attack": (member, np.r_[np.nan, np.zeros(599)])})


def test_provenance_footer_still_names_a_profiles_run():
    summary = {**_own_summary(str), "profile": "quick", "epochs": 10, "n_shadows": 10, "backend": "tensorflow",
               "seed": 0}
    assert plots.provenance(summary) == "profile quick · sizes 400, 800 · 10 epochs · 10 shadows · backend tensorflow · seed 0"
