import json
import numpy as np
import pytest

from mia_repro.experiment.stages import stage1 as stage1_mod
from mia_repro import training
from mia_repro.training import sequential
from mia_repro.base.cache import CacheEntryError, seal, sidecar
from mia_repro.experiment.outputs import ModelOutputs
from mia_repro.experiment.trained import ModelStore
from mia_repro.experiment.outputs import Expected
from mia_repro.experiment.plan import expected
from mia_repro.models.queries import QuerySpec
from mia_repro.experiment.stages.stage1 import load_stage1, run_stage1
from mia_repro.experiment.plan import size_jobs
from mia_repro.data.splits import make_splits


def quiet(*_):
    pass


def test_stage1_keeps_every_models_outputs_and_a_rerun_trains_nothing(trained_config, monkeypatch):
    """What the session's tiny run (``run_stage1`` on the tiny config) left: every model's outputs, its weights,
    no half-written file; running it again loads them all."""
    out = load_stage1(trained_config)
    assert set(out) == {30, 40}
    for size, so in out.items():
        assert len(so.shadows) == 2
        for m in [so.target, *so.shadows]:
            assert m.probs.dtype == np.float32 and m.probs.shape == (2 * size, 10)
            np.testing.assert_allclose(m.probs.sum(1), 1, rtol=1e-4)
            assert m.member.sum() == size and m.member[:size].all()
            assert m.true_class.dtype == np.int64 and len(np.unique(m.indices)) == 2 * size
            assert 0 <= m.train_acc <= 1 and 0 <= m.test_acc <= 1
            assert len(m.history["loss"]) == trained_config.model.epochs
    files = list((trained_config.output_dir / "stage1").rglob("*"))
    assert not [f for f in files if f.name.endswith(".tmp")]
    store = ModelStore(trained_config)
    for size in (30, 40):
        assert all(store.weights_path(j, size, trained_config.model).exists()
                   for j in size_jobs(make_splits(240, size, 2, 0), 0))

    def boom(*a, **k):
        raise AssertionError("trained although cached")

    monkeypatch.setattr(sequential, "train_one", boom)
    lines = []
    again = run_stage1(trained_config, log=lines.append)
    assert any("nothing trained" in line for line in lines)
    np.testing.assert_array_equal(again[30].target.probs, out[30].target.probs)
    assert load_stage1(trained_config)[40].target.train_acc == out[40].target.train_acc


@pytest.mark.training
def test_interrupted_run_resumes_at_next_model(tiny_config, monkeypatch):
    cfg = tiny_config.__class__(**{**tiny_config.__dict__, "sizes": (30,)})
    real = sequential.train_one
    calls = []

    def ctrl_c_in_the_third(job, *a, **k):  # Ctrl-C while the third model trains
        calls.append(job.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job, *a, **k)

    monkeypatch.setattr(sequential, "train_one", ctrl_c_in_the_third)
    with pytest.raises(KeyboardInterrupt):
        run_stage1(cfg, log=quiet)
    assert calls == ["target", "shadow_00", "shadow_01"]
    trained = []
    monkeypatch.setattr(sequential, "train_one", lambda job, *a, **k: trained.append(job.name) or real(job, *a, **k))
    run_stage1(cfg, log=quiet)
    assert trained == ["shadow_01"]


@pytest.mark.training
def test_data_given_in_memory_trains_what_the_dataset_folder_trains(trained_config, tmp_path):
    """``run_stage1(cfg, data=(x, y))`` trains on the arrays, not on a folder (the config's points nowhere): the
    same models as the session's run that read the tiny dataset from its folder."""
    import dataclasses

    from mia_repro.data.cifar10 import load_cifar10

    x, y = load_cifar10(trained_config.data_path, download=False)
    cfg = dataclasses.replace(trained_config, sizes=(30,), data_path=str(tmp_path / "nowhere"),
                              results_dir=str(tmp_path / "in-memory"))
    lines = []
    got = run_stage1(cfg, data=(x, y), log=lines.append)[30]
    assert any("n=30: trained 3, completed 0" in line for line in lines)
    ref = load_stage1(dataclasses.replace(trained_config, sizes=(30,)))[30]
    for a, b in zip([got.target, *got.shadows], [ref.target, *ref.shadows]):
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.member, b.member)
        np.testing.assert_allclose(a.logits, b.logits, rtol=1e-5, atol=1e-5)


def test_cache_key_separates_model_configs(tiny_config):
    import dataclasses

    store = ModelStore(tiny_config)
    job = size_jobs(make_splits(240, 30, 2, 0), 0)[0]
    assert store.path(job, 30, tiny_config.model) != store.path(job, 30, dataclasses.replace(tiny_config.model, l2=1e-3))


def _full_outputs():
    m = ModelOutputs("shadow_00", np.eye(10, dtype=np.float32)[:4], np.arange(4), np.array([1, 1, 0, 0], bool),
                     np.arange(4), 1.0, 0.5, {"loss": [0.3]}, 1.5, "sequential")
    spec = QuerySpec(np.arange(4), np.array([7, 9]), ("hflip",), np.array([5, 6]))
    q = {"logits": np.ones((4, 10), np.float32), "pop_logits": np.zeros((2, 10), np.float32),
         "aug_labels": np.zeros((1, 4), np.int16), "ref_logits": np.ones((2, 10), np.float32), "inference_seconds": 0.1}
    return m.with_queries(q, spec), Expected(spec, n_members=2)


def _other(expect: Expected, **change) -> Expected:
    import dataclasses

    return Expected(dataclasses.replace(expect.spec, **change), expect.n_members, expect.dp)


def test_outputs_roundtrip_and_checks(tmp_path):
    m, spec = _full_outputs()
    m.save(tmp_path / "m.npz")
    back = ModelOutputs.load(tmp_path / "m.npz", "shadow_00", spec)
    np.testing.assert_array_equal(back.probs, m.probs)
    np.testing.assert_array_equal(back.ref_logits, m.ref_logits)
    assert (back.train_acc, back.test_acc, back.history, back.trainer) == (1.0, 0.5, {"loss": [0.3]}, "sequential")
    assert back.aug_names == ("hflip",) and back.spec["population_size"] == 2
    with pytest.raises(CacheEntryError, match="other population"):
        ModelOutputs.load(tmp_path / "m.npz", "shadow_00", _other(spec, population=np.array([7, 8])))
    with pytest.raises(CacheEntryError, match="other records"):
        ModelOutputs.load(tmp_path / "m.npz", "shadow_00", _other(spec, own=np.arange(1, 5)))
    with pytest.raises(CacheEntryError, match="reference"):
        ModelOutputs.load(tmp_path / "m.npz", "shadow_00", _other(spec, reference=np.array([5, 7])))
    (tmp_path / "bad.npz").write_bytes((tmp_path / "m.npz").read_bytes()[:100])
    with pytest.raises(CacheEntryError, match="bad.npz: unreadable"):
        ModelOutputs.load(tmp_path / "bad.npz", "shadow_00", spec)


def test_old_format_cache_is_recomputed_never_misread(trained_config):
    """A format-1 file (softmax only) is completed from its weights, or retrained when none are kept."""
    import dataclasses

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    first = run_stage1(cfg, log=quiet)[30]
    store = ModelStore(cfg)
    jobs = size_jobs(make_splits(240, 30, 2, 0), 0)
    old = {"probs": first.target.probs, "true_class": first.target.true_class, "member": first.target.member,
           "indices": first.target.indices, "train_acc": 0.1, "test_acc": 0.2, "history": np.array('{"loss": [1.0]}'),
           "seconds": 1.0, "trainer": np.array("sequential")}
    for j in jobs[:2]:
        np.savez(store.path(j, 30, cfg.model), **old)  # format 1, no logits
        seal(store.path(j, 30, cfg.model), store.key(j, 30, cfg.model))  # with its digest, as committed files have
    store.weights_path(jobs[1], 30, cfg.model).unlink()
    lines = []
    again = run_stage1(cfg, log=lines.append)[30]
    text = "\n".join(lines)
    assert "old format" in text and "completing it from its weights" in text and "retraining" in text
    assert "trained 1, completed 1" in text
    assert again.target.history == {"loss": [1.0]}  # completed: training-time fields kept, extras added
    np.testing.assert_allclose(again.target.logits, first.target.logits, rtol=1e-5, atol=1e-5)
    assert again.shadows[0].logits is not None and again.shadows[0].ref_logits.shape == (60, 10)


def test_files_are_trusted_by_content_and_key_not_by_name(trained_config):
    """Edited, swapped, or copied with its digest under another name: reported by path, retrained; a file
    whose digest was deleted is never sealed silently (retrained), only by `python -m mia_repro.tools.migrate seal`."""
    import dataclasses
    import shutil

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    first = run_stage1(cfg, log=quiet)[30]
    store = ModelStore(cfg)
    target, s0, s1 = (store.path(j, 30, cfg.model) for j in size_jobs(make_splits(240, 30, 2, 0), 0))
    good = {p: p.read_bytes() for p in (target, s0, s1)}
    # a deleted sidecar launders nothing: the file is refused and retrained (same bits here)
    sidecar(target).unlink()
    # a shadow's file over the other shadow's (both with digests): content changed -> retrained
    shutil.copy(s0, s1)
    # a shadow's file copied with its digest over the target's place: another key
    lines = []
    again = run_stage1(cfg, log=lines.append)[30]
    text = "\n".join(lines)
    assert f"{s1}: content changed since it was written (digest mismatch); retraining" in text
    assert f"{target}: no digest beside it" in text
    assert "trained 2, completed 0" in text and sidecar(target).exists()
    np.testing.assert_array_equal(again.target.logits, first.target.logits)  # retrained to the same bits
    for k in ("probs", "logits", "pop_logits", "ref_logits", "aug_labels"):  # retrained: the same bits again
        np.testing.assert_array_equal(getattr(again.shadows[1], k), getattr(first.shadows[1], k))
    shutil.copy(s0, target)
    shutil.copy(sidecar(s0), sidecar(target))
    with pytest.raises(stage1_mod.Stage1Error, match="written for another key"):
        load_stage1(cfg)
    # a shadow whose file lacks ref_logits, with no digest: refused before its content is read, never sealed
    d = dict(np.load(s0))
    del d["ref_logits"]
    np.savez(s0, **d)
    sidecar(s0).unlink()
    with pytest.raises(CacheEntryError, match="no digest beside it"):
        ModelOutputs.load(s0, "shadow_00", expected(cfg, make_splits(240, 30, 2, 0),
                                                             size_jobs(make_splits(240, 30, 2, 0), 0)[1], cfg.model),
                          key=store.key(size_jobs(make_splits(240, 30, 2, 0), 0)[1], 30, cfg.model))
    assert not sidecar(s0).exists()


def test_only_the_migrate_command_seals_and_it_says_what(trained_config, capsys):
    """A model file whose sidecar is gone: the stage retrains it; `python -m mia_repro.tools.migrate seal` seals it
    (one line naming file and key) and the stage then uses it; an edited file is still caught by content
    only where the checks see it, so the command refuses NaN and files that already have a digest."""
    import dataclasses

    from mia_repro.tools import migrate

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    run_stage1(cfg, log=quiet)
    store = ModelStore(cfg)
    target = store.path(size_jobs(make_splits(240, 30, 2, 0), 0)[0], 30, cfg.model)
    assert migrate.main(["seal", str(target)]) == 2  # already sealed
    assert "already has a digest" in capsys.readouterr().err
    sidecar(target).unlink()
    assert migrate.main(["seal", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"sealed {target} (key {target.name[-16:-4]})"
    lines = []
    run_stage1(cfg, log=lines.append)
    assert "all 3 models cached, nothing trained" in "\n".join(lines)  # the sealed file is used
    d = dict(np.load(target))
    d["logits"] = np.full_like(d["logits"], np.nan)
    np.savez(target, **d)
    sidecar(target).unlink()
    assert migrate.main(["seal", str(target)]) == 2
    assert "logits holds NaN" in capsys.readouterr().err and not sidecar(target).exists()


def test_damaged_cache_and_orphans_are_recomputed(trained_config):
    import dataclasses

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    run_stage1(cfg, log=quiet)
    store = ModelStore(cfg)
    jobs = size_jobs(make_splits(240, 30, 2, 0), 0)
    path = store.path(jobs[2], 30, cfg.model)
    path.write_bytes(b"garbage")
    store.weights_path(jobs[2], 30, cfg.model).unlink()
    orphan = path.parent / f".{path.name}.123.tmp"
    orphan.write_bytes(b"half")
    with pytest.raises(stage1_mod.Stage1Error, match="(unreadable|content changed since it was written).*recomputes"):
        load_stage1(cfg)
    lines = []
    run_stage1(cfg, log=lines.append)
    assert any(str(path) in line and "retraining" in line for line in lines)
    assert not orphan.exists()
    assert load_stage1(cfg)[30].shadows[1].logits.shape == (60, 10)


def test_foreign_file_with_weights_is_retrained_not_completed(trained_config):
    """A file holding other records (a reused folder) is never completed from weights: that model is retrained."""
    import dataclasses

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    first = run_stage1(cfg, log=quiet)[30]
    store = ModelStore(cfg)
    job = size_jobs(make_splits(240, 30, 2, 0), 0)[0]
    path = store.path(job, 30, cfg.model)
    d = dict(np.load(path))
    d["indices"] = d["indices"][::-1].copy()
    np.savez(path, **d)
    seal(path, store.key(job, 30, cfg.model))  # a consistent digest: only its content can tell it is foreign
    lines = []
    again = run_stage1(cfg, log=lines.append)[30]
    assert any("other records" in line and line.endswith("retraining") for line in lines)
    np.testing.assert_array_equal(again.target.indices, first.target.indices)
    np.testing.assert_array_equal(again.target.probs, first.target.probs)  # deterministic retraining


def test_extras_are_what_the_attacks_need(trained_config):
    import dataclasses

    from mia_repro.attacks.signals import log_softmax
    from mia_repro.data.splits import population_sample

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    so = run_stage1(cfg, log=quiet)[30]
    splits = make_splits(240, 30, 2, 0)
    pop = population_sample(splits, 40, 0)
    assert not set(pop) & set(splits.target_eval)
    for m in [so.target, *so.shadows]:
        np.testing.assert_allclose(np.exp(log_softmax(m.logits)), m.probs, atol=1e-5)
        np.testing.assert_array_equal(m.pop_indices, pop)
        assert m.pop_logits.shape == (40, 10) and m.aug_labels.shape == (2, 60) and m.aug_names == ("hflip", "shift:1:0")
    assert so.target.ref_logits is None
    for s in so.shadows:
        np.testing.assert_array_equal(s.ref_indices, splits.target_eval)
        assert not set(s.indices[s.member]) & set(s.ref_indices)


def test_choose_trainer_on_cpu():
    kind, reason = training.choose_trainer("auto")
    assert kind == "sequential" and "cpu" in reason
    assert training.choose_trainer("stacked")[0] == "stacked"
    with pytest.raises(ValueError):
        training.choose_trainer("fast")


@pytest.mark.training
def test_each_model_file_names_the_machine_that_trained_it(trained_config, tmp_path):
    """A trained model records machine_info(); a file from before that loads with {} and is reported as
    "not recorded"; a completed file keeps the machine of its training, not the completing one."""
    import dataclasses

    from mia_repro.experiment.provenance import stage1_meta, trained_on_table
    from mia_repro.training import machine_info

    cfg = dataclasses.replace(trained_config, sizes=(30,))
    so = load_stage1(cfg)[30]  # trained by the session's tiny run, on this machine
    here = {**machine_info(), "steps_per_execution": 1, "threads_per_model": cfg.threads_per_model}
    assert here["device_name"] and all(m.trained_on == here for m in [so.target, *so.shadows])
    four = run_stage1(dataclasses.replace(cfg, steps_per_execution=4, results_dir=str(tmp_path / "spe4")),
                      log=quiet)[30]
    assert four.target.trained_on == {**here, "steps_per_execution": 4}  # a forced value is what the file says
    assert four.fingerprint() == so.fingerprint()  # and changes nothing else: same outputs, bit for bit
    meta = stage1_meta(cfg, {30: so})
    assert (meta["backend"], meta["device"], meta["trainer"]) == (here["backend"], here["device"], "sequential")
    assert meta["stage1_trained_on"] == {"30": [{**here, "trainer": "sequential", "models": 3}]}

    gpu = {"backend": "jax", "device": "gpu", "device_name": "NVIDIA H100 80GB HBM3", "keras": "3.15.1"}
    mixed = dataclasses.replace(so, target=dataclasses.replace(so.target, trained_on=gpu, trainer="stacked"),
                                shadows=[dataclasses.replace(so.shadows[0], trained_on={}), so.shadows[1]])
    table = trained_on_table({30: mixed})["30"]
    assert {"trainer": "sequential", "backend": "not recorded", "models": 1} in table and len(table) == 3
    meta = stage1_meta(cfg, {30: mixed})
    assert meta["backend"] == f"mixed: jax, {here['backend']}" and meta["trainer"] == "mixed: sequential, stacked"

    m, spec = _full_outputs()
    m.save(tmp_path / "old.npz")
    d = dict(np.load(tmp_path / "old.npz"))
    del d["trained_on"]
    np.savez(tmp_path / "old.npz", **d)  # a format-2 file written before the machine was kept
    assert ModelOutputs.load(tmp_path / "old.npz", "shadow_00", spec).trained_on == {}
    dataclasses.replace(m, trained_on=gpu).save(tmp_path / "gpu.npz")
    assert ModelOutputs.load(tmp_path / "gpu.npz", "shadow_00", spec).trained_on == gpu
    d = dict(np.load(tmp_path / "gpu.npz"))
    d["trained_on"] = np.array("{not json")
    np.savez(tmp_path / "bad.npz", **d)  # a damaged record: reported by path, so Stage I recomputes it
    with pytest.raises(CacheEntryError, match="bad.npz: incomplete"):
        ModelOutputs.load(tmp_path / "bad.npz", "shadow_00", spec)

    store = ModelStore(cfg)
    job = size_jobs(make_splits(240, 30, 2, 0), 0)[0]
    path = store.path(job, 30, cfg.model)
    d = dict(np.load(path))
    d.update(trained_on=np.array('{"backend": "jax", "device": "gpu"}'), format=np.int64(1))
    np.savez(path, **d)  # completed from its weights: keeps the machine that trained it
    seal(path, store.key(job, 30, cfg.model))  # (an old-format file with its digest)
    again = run_stage1(cfg, log=quiet)[30]
    assert again.target.trained_on == {"backend": "jax", "device": "gpu"}


def test_nan_logits_with_a_consistent_digest_are_one_line_and_a_recomputation(trained_config):
    """A file whose digest matches but whose logits hold NaN: later stages get one Stage1Error naming the
    file; Stage I reports it by path and recomputes it (by inference from its kept weights)."""
    import dataclasses

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    first = run_stage1(cfg, log=quiet)[30]
    store = ModelStore(cfg)
    job = size_jobs(make_splits(240, 30, 2, 0), 0)[0]
    path, key = store.path(job, 30, cfg.model), store.key(job, 30, cfg.model)
    logits = first.target.logits.copy()
    logits[3, 2] = np.nan
    dataclasses.replace(first.target, logits=logits).save(path, key=key)  # digest consistent with the NaN
    with pytest.raises(stage1_mod.Stage1Error, match=r"logits holds 1 NaN or infinite value\(s\)\. Run `python -m "
                                                    r"mia_repro stage1"):
        load_stage1(cfg)
    lines = []
    again = run_stage1(cfg, log=lines.append)[30]
    bad = [line for line in lines if str(path) in line]
    assert len(bad) == 1 and "NaN" in bad[0] and bad[0].endswith("completing it from its weights")
    assert any("trained 0, completed 1" in line for line in lines)
    np.testing.assert_allclose(again.target.logits, first.target.logits, rtol=1e-5, atol=1e-5)
    assert np.isfinite(load_stage1(cfg)[30].target.logits).all()


def test_probabilities_in_place_of_logits_or_a_wrong_dtype_fail_the_content_check(tmp_path):
    import dataclasses

    m, expect = _full_outputs()
    for change, why in [({"probs": m.probs * 2}, r"probs outside \[0, 1\]"),
                        ({"true_class": m.true_class.astype(np.float64)}, "true_class has dtype float64"),
                        ({"pop_logits": m.pop_logits[:1]}, r"pop_logits has shape \(1, 10\), expected \(2, 10\)"),
                        ({"ref_logits": np.full((2, 10), np.inf, np.float32)}, "ref_logits holds 20 NaN or infinite"),
                        ({"member": ~m.member}, "membership is not the first 2 of its 4 records")]:
        dataclasses.replace(m, **change).save(tmp_path / "x.npz")
        with pytest.raises(CacheEntryError, match=why):
            ModelOutputs.load(tmp_path / "x.npz", "shadow_00", expect)


def test_an_ordinary_file_in_a_dp_models_place_is_retrained(trained_config):
    """An ordinary model's file copied over a DP-SGD target's (and re-keyed, digest consistent) is refused
    by its missing DP record and retrained, never a TypeError later; the reverse swap is refused too."""
    import dataclasses

    from mia_repro.experiment.trained import train_or_load
    from mia_repro.models.config import DPConfig

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    plain = run_stage1(cfg, log=quiet)[30]
    job = size_jobs(make_splits(240, 30, 2, 0), 0)[0]
    dp_model = dataclasses.replace(cfg.model, dp=DPConfig(noise_multiplier=1.0))
    store = ModelStore(cfg)
    dp_out = train_or_load(cfg, 30, [job], dp_model, log=quiet)[0]
    assert dp_out.dp["noise_multiplier"] == 1.0 and np.isfinite(dp_out.dp["epsilon"])
    plain.target.save(store.path(job, 30, dp_model), key=store.key(job, 30, dp_model))
    store.weights_path(job, 30, dp_model).unlink()
    lines, stats = [], {}
    again = train_or_load(cfg, 30, [job], dp_model, log=lines.append, stats=stats)[0]
    assert "without its complete DP record" in lines[0] and lines[0].endswith("retraining")
    assert lines[1].startswith("  n=30 target: ") and len(lines) == 2  # the retrained model's line
    assert stats["trained"] == 1 and again.dp == dp_out.dp
    with pytest.raises(CacheEntryError, match="an ordinary model's file holds a DP record"):
        ModelOutputs.load(store.path(job, 30, dp_model), job.name,
                          expected(cfg, make_splits(240, 30, 2, 0), job, cfg.model))


def test_another_models_file_with_a_recomputed_digest_is_refused_by_its_identity(trained_config):
    """The probe's swap: the plain target's file copied over a DP-SGD target's place and its sidecar recomputed
    for that key: the identity inside the file names the other model, so it is refused and retrained."""
    import dataclasses
    import shutil

    from mia_repro.experiment.trained import train_or_load
    from mia_repro.models.config import DPConfig

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    run_stage1(cfg, log=quiet)
    job = size_jobs(make_splits(240, 30, 2, 0), 0)[0]
    dp_model = dataclasses.replace(cfg.model, dp=DPConfig(noise_multiplier=1.0, noise_seed="model"))
    store = ModelStore(cfg)
    dp_out = train_or_load(cfg, 30, [job], dp_model, log=quiet)[0]
    shutil.copy(store.path(job, 30, cfg.model), store.path(job, 30, dp_model))
    seal(store.path(job, 30, dp_model), store.key(job, 30, dp_model))  # a consistent digest for the wrong file
    lines, stats = [], {}
    again = train_or_load(cfg, 30, [job], dp_model, log=lines.append, stats=stats)[0]
    assert f"the file of another model (target, trained for key {store.key(job, 30, cfg.model)})" in lines[0]
    assert stats["trained"] == 1 and again.dp == dp_out.dp


@pytest.mark.parametrize("damage, says", [
    (lambda p, d: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "unreadable (BadZipFile"),
    (lambda p, d: np.savez(p, **{**d, "identity": np.array(json.dumps(["not", "an", "object"]))}),
     "its identity record is not an object (list)"),
    (lambda p, d: np.savez(p, **{**d, "identity": np.array("{broken")}), "unreadable (JSONDecodeError"),
])
def test_the_seal_command_refuses_a_damaged_file_in_one_line(trained_config, capsys, damage, says):
    """The probe's cases: a truncated zip, an identity that is not an object, an identity that is not JSON:
    each one line naming the file, exit 2, nothing sealed (never a traceback)."""
    import dataclasses

    from mia_repro.tools import migrate

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # Stage I trained: a copy
    run_stage1(cfg, log=quiet)
    target = ModelStore(cfg).path(size_jobs(make_splits(240, 30, 2, 0), 0)[0], 30, cfg.model)
    d = dict(np.load(target))
    sidecar(target).unlink()
    damage(target, d)
    capsys.readouterr()  # Stage I's progress lines
    assert migrate.main(["seal", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and says in err[0], err
    assert not sidecar(target).exists()
