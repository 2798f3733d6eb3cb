"""End-to-end smoke profile on the real CIFAR-10 (skipped, with the reason, when absent)."""
import json

import pytest

from mia_repro.experiment.profiles import get_config
from mia_repro.data.cifar10 import DatasetNotFoundError, candidate_dirs, load_cifar10


@pytest.fixture(scope="module")
def cifar():
    try:
        return load_cifar10(download=False)
    except DatasetNotFoundError:
        where = ", ".join(str(p) for p in candidate_dirs())
        pytest.skip(f"real CIFAR-10 not found in {where}; run `python ../shared/data/cifar10/materialize.py data/`")


@pytest.mark.integration
def test_real_cifar10_is_official(cifar):
    x, y = cifar
    assert x.shape == (60000, 32, 32, 3) and y.shape == (60000,)
    assert list(y[:10]) == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # data_batch_1
    assert y[50000] == 3  # first test image is a cat
    assert abs(x[:50000, ..., 0].mean() - 125.307) < 0.01


@pytest.mark.training
@pytest.mark.integration
def test_smoke_profile_end_to_end(cifar, tmp_path):
    from mia_repro.experiment.stages.mitigation import run_mitigation
    from mia_repro.experiment.stages.stage1 import run_stage1
    from mia_repro.experiment.stages.stage2 import run_stage2

    cfg = get_config("smoke", results_dir=str(tmp_path))
    x, y = cifar
    out = run_stage1(cfg, data=(x[:2000], y[:2000]), log=print)
    assert set(out) == set(cfg.sizes)
    summary = run_stage2(cfg, log=print)
    assert set(summary["sizes"]) == {str(s) for s in cfg.sizes}
    rows = run_mitigation(cfg, log=print)
    assert rows and json.loads((tmp_path / "mitigation.json").read_text()) == json.loads(json.dumps(rows))
