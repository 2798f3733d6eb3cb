import numpy as np
import pytest

from mia_repro import data as data_mod
from mia_repro.data import DatasetNotFoundError, load_cifar10, read_batches, to_model_input


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
