import numpy as np
import pytest

from mia_repro.data import cifar10 as data_mod
from mia_repro.data.cifar10 import DatasetNotFoundError, load_cifar10, read_batches, to_model_input


def test_reads_official_layout_in_official_order(tiny_dataset):
    folder, x, y = tiny_dataset
    got_x, got_y = read_batches(folder)
    assert got_x.dtype == np.uint8 and got_x.shape == x.shape
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def test_path_argument_may_be_parent_or_batch_folder(tiny_dataset):
    folder, x, _ = tiny_dataset
    for p in (folder, folder.parent):
        got, _ = load_cifar10(p, download=False)
        np.testing.assert_array_equal(got, x)


def test_env_variable_is_searched(tiny_dataset, monkeypatch, tmp_path):
    folder, x, _ = tiny_dataset
    monkeypatch.setenv("MIA_REPRO_DATA", str(folder.parent))
    monkeypatch.setattr(data_mod, "PROJECT_ROOT", tmp_path / "nowhere")
    got, _ = load_cifar10(download=False)
    np.testing.assert_array_equal(got, x)


def test_missing_dataset_gives_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("MIA_REPRO_DATA", raising=False)
    monkeypatch.setattr(data_mod, "PROJECT_ROOT", tmp_path / "nowhere")

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(data_mod, "_keras_download", offline)
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10()
    msg = str(err.value)
    assert "materialize.py" in msg and "MIA_REPRO_DATA" in msg and "no network" in msg
    assert str(tmp_path / "nowhere" / "data") in msg


def test_named_path_is_used_or_rejected_never_replaced(tiny_dataset, monkeypatch, tmp_path):
    """A complete copy in data/ must not stand in for a --data folder that is missing or incomplete."""
    folder, _, _ = tiny_dataset
    monkeypatch.setattr(data_mod, "PROJECT_ROOT", folder.parent.parent)  # data/ holds a complete copy
    assert data_mod.find_batch_dir() is not None
    with pytest.raises(DatasetNotFoundError, match="no such folder"):
        load_cifar10(tmp_path / "nonexistent")
    partial = tmp_path / "partial" / "cifar-10-batches-py"
    partial.mkdir(parents=True)
    for f in data_mod.BATCH_FILES[:4]:
        (partial / f).write_bytes((folder / f).read_bytes())
    with pytest.raises(DatasetNotFoundError, match="lacks data_batch_5, test_batch"):
        load_cifar10(partial.parent)


def test_falls_back_to_keras_download(monkeypatch, tmp_path):
    monkeypatch.delenv("MIA_REPRO_DATA", raising=False)
    monkeypatch.setattr(data_mod, "PROJECT_ROOT", tmp_path / "nowhere")
    fake = (np.zeros((3, 32, 32, 3), np.uint8), np.arange(3))
    monkeypatch.setattr(data_mod, "_keras_download", lambda: fake)
    x, y = load_cifar10()
    assert x.shape == (3, 32, 32, 3)


def test_to_model_input_scales_and_checks_shape():
    x = np.full((2, 32, 32, 3), 255, np.uint8)
    out = to_model_input(x)
    assert out.dtype == np.float32 and out.max() == 1.0
    assert to_model_input(x, scale=False).max() == 255.0
    with pytest.raises(ValueError, match="N, H, W, C"):
        to_model_input(np.zeros((32, 32, 3)))


@pytest.mark.parametrize("damage", ["truncated", "empty", "random", "wrong_shape"])
def test_damaged_batch_file_is_named_with_how_to_restore(tiny_dataset, damage):
    import pickle

    folder, _, _ = tiny_dataset
    target = folder / "data_batch_3"
    raw = target.read_bytes()
    if damage == "truncated":
        target.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "random":
        target.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        target.write_bytes(pickle.dumps({b"data": np.zeros((10, 100), np.uint8), b"labels": [0] * 10}))
    with pytest.raises(data_mod.DatasetCorruptError) as err:
        load_cifar10(folder)
    assert "data_batch_3" in str(err.value) and "materialize.py" in str(err.value)


def test_official_size_is_checked_against_the_content_checksums(tmp_path, monkeypatch):
    """60,000 records whose pixels are not the official ones fail the SHA-256 check, which the error names."""
    import pickle

    out = tmp_path / "cifar-10-batches-py"
    out.mkdir()
    for name in data_mod.BATCH_FILES:
        with open(out / name, "wb") as fh:
            pickle.dump({b"data": np.zeros((10000, 3072), np.uint8), b"labels": [0] * 10000}, fh)
    with pytest.raises(data_mod.DatasetCorruptError, match="SHA-256 of the decoded x_train"):
        load_cifar10(tmp_path)


def test_scaled_float_images_are_rejected_not_divided_again():
    with pytest.raises(data_mod.InputError, match="expected uint8 images.*float32 with values in \\[0, 1\\]"):
        to_model_input(np.linspace(0, 1, 2 * 32 * 32 * 3, dtype=np.float32).reshape(2, 32, 32, 3))


def test_training_inputs_are_checked_at_the_boundary():
    from mia_repro.models.config import ModelConfig
    from mia_repro.training import TrainJob, train_models

    x = np.zeros((20, 32, 32, 3), np.uint8)
    y = np.zeros(20, np.int64)
    ok = TrainJob("m", np.arange(5), np.arange(5, 10), 0)
    cfg = ModelConfig(epochs=1)
    with pytest.raises(data_mod.InputError, match="uint8"):
        train_models([ok], cfg, x.astype(np.float32) / 255, y)
    with pytest.raises(data_mod.InputError, match="integer class labels"):
        train_models([ok], cfg, x, y.astype(np.float32))
    with pytest.raises(data_mod.InputError, match="0..9"):
        train_models([ok], cfg, x, y + 10)
    with pytest.raises(data_mod.InputError, match="both members and non-members"):
        train_models([TrainJob("m", np.arange(5), np.arange(3, 8), 0)], cfg, x, y)


def test_a_batch_file_that_would_run_code_is_refused_before_it_runs(tmp_path):
    """A pickle names any callable and calls it while loading: the batch reader allows numpy's array
    reconstruction only, so a planted batch is a DatasetCorruptError and its code never runs."""
    import pickle

    import pytest

    from mia_repro.data.cifar10 import DatasetCorruptError, read_batch

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Payload(), b"labels": [0]}))
    with pytest.raises(DatasetCorruptError, match="not a CIFAR-10 batch"):
        read_batch(path)
    assert not marker.exists()
