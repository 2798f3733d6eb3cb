import numpy as np
import pytest

from mia_repro import stage1 as stage1_mod
from mia_repro import training
from mia_repro.stage1 import ModelOutputs, Stage1Store, load_stage1, run_stage1, size_jobs
from mia_repro.splits import make_splits


def quiet(*_):
    pass


def test_stage1_trains_caches_and_skips_on_rerun(tiny_config, monkeypatch):
    out = run_stage1(tiny_config, log=quiet)
    assert set(out) == {30, 40}
    for size, so in out.items():
        assert len(so.shadows) == 2
        for m in [so.target, *so.shadows]:
            assert m.probs.dtype == np.float32 and m.probs.shape == (2 * size, 10)
            np.testing.assert_allclose(m.probs.sum(1), 1, rtol=1e-4)
            assert m.member.sum() == size and m.member[:size].all()
            assert m.true_class.dtype == np.int64 and len(np.unique(m.indices)) == 2 * size
            assert 0 <= m.train_acc <= 1 and 0 <= m.test_acc <= 1
            assert len(m.history["loss"]) == tiny_config.model.epochs
    files = list((tiny_config.output_dir / "stage1").rglob("*"))
    assert not [f for f in files if f.name.endswith(".tmp")]
    assert len([f for f in files if f.name.endswith(".weights.npz")]) == 6

    def boom(*a, **k):
        raise AssertionError("trained although cached")

    monkeypatch.setattr(stage1_mod, "train_models", boom)
    lines = []
    again = run_stage1(tiny_config, log=lines.append)
    assert any("nothing trained" in line for line in lines)
    np.testing.assert_array_equal(again[30].target.probs, out[30].target.probs)
    assert load_stage1(tiny_config)[40].target.train_acc == out[40].target.train_acc


def test_interrupted_run_resumes_at_next_model(tiny_config, monkeypatch):
    cfg = tiny_config.__class__(**{**tiny_config.__dict__, "sizes": (30,)})
    real = training.train_sequential
    calls = []

    def crash_after_two(jobs, *a, on_result=None, **k):
        def keep(r):
            calls.append(r.name)
            on_result(r)
            if len(calls) == 2:
                raise KeyboardInterrupt

        return real(jobs, *a, on_result=keep, **k)

    monkeypatch.setattr(training, "train_sequential", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_stage1(cfg, log=quiet)
    assert calls == ["target", "shadow_00"]
    monkeypatch.setattr(training, "train_sequential", real)
    trained = []
    monkeypatch.setattr(training, "train_sequential", lambda jobs, *a, **k: trained.extend(j.name for j in jobs) or real(jobs, *a, **k))
    run_stage1(cfg, log=quiet)
    assert trained == ["shadow_01"]


def test_cache_key_separates_model_configs(tiny_config):
    import dataclasses

    store = Stage1Store(tiny_config, 240)
    job = size_jobs(make_splits(240, 30, 2, 0), 0)[0]
    assert store.path(job, 30, tiny_config.model) != store.path(job, 30, dataclasses.replace(tiny_config.model, l2=1e-3))


def test_outputs_roundtrip(tmp_path):
    m = ModelOutputs("target", np.eye(10, dtype=np.float32)[:4], np.arange(4), np.array([1, 1, 0, 0], bool),
                     np.arange(4), 1.0, 0.5, {"loss": [0.3]}, 1.5, "sequential")
    m.save(tmp_path / "m.npz")
    back = ModelOutputs.load(tmp_path / "m.npz", "target")
    np.testing.assert_array_equal(back.probs, m.probs)
    assert (back.train_acc, back.test_acc, back.history, back.trainer) == (1.0, 0.5, {"loss": [0.3]}, "sequential")


def test_choose_trainer_on_cpu():
    kind, reason = training.choose_trainer("auto")
    assert kind == "sequential" and "cpu" in reason
    assert training.choose_trainer("stacked")[0] == "stacked"
    with pytest.raises(ValueError):
        training.choose_trainer("fast")
