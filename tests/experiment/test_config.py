import dataclasses

import pytest

from mia_repro.experiment.profiles import PROFILES, get_config
from mia_repro.base.errors import ConfigError
from mia_repro.models.config import ModelConfig
from mia_repro.experiment.keys import config_key


def test_profiles_exist_and_follow_the_issue():
    assert set(PROFILES) == {"smoke", "quick", "paper"}
    quick, paper = get_config("quick"), get_config("paper")
    assert quick.sizes == paper.sizes == (2500, 5000, 10000, 15000)
    assert quick.n_shadows == paper.n_shadows == 10
    assert paper.model.epochs == 100
    smoke = get_config("smoke")
    assert smoke.n_shadows == 2 and smoke.model.epochs == 2 and max(smoke.sizes) <= 1000


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ConfigError, match="smoke, quick, paper"):
        get_config("fast")


def test_overrides_and_none_passthrough():
    cfg = get_config("quick", seed=3, sizes=[2500], epochs=5, data_path=None)
    assert cfg.seed == 3 and cfg.sizes == (2500,) and cfg.model.epochs == 5 and cfg.data_path is None
    with pytest.raises(ConfigError):
        get_config("quick", no_such_field=1)


def test_model_defaults_match_seed_reproduction():
    m = ModelConfig()
    assert (m.conv_filters, m.conv_kernels, m.dense_units, m.activation) == ((32, 32), (5, 3), 128, "tanh")
    assert (m.learning_rate, m.batch_size, m.l2, m.dropout) == (1e-3, 32, 0.0, 0.0)


def test_config_key_changes_with_any_field():
    base = ModelConfig()
    assert config_key(base, 1) == config_key(ModelConfig(), 1)
    assert config_key(base, 1) != config_key(base, 2)
    assert config_key(base) != config_key(dataclasses.replace(base, l2=1e-3))


def test_output_dir_defaults_to_results_profile():
    assert get_config("smoke").output_dir.parts[-2:] == ("results", "smoke")


def test_steps_per_execution_is_validated_and_left_out_of_cache_keys():
    assert get_config("quick").steps_per_execution is None
    assert get_config("quick", steps_per_execution=64).steps_per_execution == 64
    for bad in (0, -1, 2.5, "32", True):
        with pytest.raises(ConfigError, match="steps_per_execution"):
            get_config("quick", steps_per_execution=bad)
    from mia_repro.data.splits import make_splits
    from mia_repro.experiment.trained import ModelStore
    from mia_repro.experiment.plan import size_jobs

    job = size_jobs(make_splits(60000, 2500, 10, 0), 0)[1]
    paths = {ModelStore(get_config("paper", steps_per_execution=s)).path(job, 2500, get_config("paper").model)
             for s in (None, 1, 64)}
    assert len(paths) == 1  # a committed model trained with another value is found and reused


def test_overrides_adjust_the_fields_that_depend_on_them():
    from mia_repro.experiment.profiles import get_config

    quick = get_config("quick", n_shadows=4)  # aware_shadows 5 would exceed it: adjusted, not an error
    assert quick.mitigation.aware_shadows == 4
    smoke = get_config("smoke", sizes=(400,))
    assert smoke.mitigation.sizes == () and smoke.mitigation.aware_sizes == ()
    assert get_config("smoke", sizes=(200, 400)).mitigation.sizes == (200,)


@pytest.mark.parametrize("overrides, field", [
    ({"seed": 2**70}, "seed"), ({"seed": -1}, "seed"), ({"model": "x"}, "model"), ({"attack": {}}, "attack"),
    ({"results_dir": ""}, "results_dir"), ({"data_path": "  "}, "data_path"),
])
def test_bad_overrides_are_config_errors_naming_the_field(overrides, field):
    from mia_repro.base.errors import ConfigError
    from mia_repro.experiment.profiles import get_config

    with pytest.raises(ConfigError, match=f"^{field}: "):
        get_config("smoke", **overrides)


def test_another_config_never_writes_over_the_profiles_results():
    from mia_repro.base.paths import PROJECT_ROOT

    quick = get_config("quick")
    assert quick.output_dir == PROJECT_ROOT / "results" / "quick" and quick.changed_fields() == ()
    assert get_config("quick", workers=2, threads_per_model=1).output_dir == quick.output_dir  # speed, not results
    small = get_config("quick", sizes=(400,), epochs=1)
    assert set(small.changed_fields()) == {"sizes", "model", "mitigation"}
    assert small.output_dir.parent == quick.output_dir.parent and small.output_dir.name.startswith("quick-")
    assert small.output_dir != get_config("quick", sizes=(400,), epochs=2).output_dir  # keyed by the values
    assert small.output_dir == get_config("quick", sizes=(400,), epochs=1).output_dir  # and stable
    assert small.layout.stage1_root == quick.layout.stage1_root  # models are shared: each file is keyed by what it depends on
    assert get_config("quick", seed=3).output_dir.name.startswith("quick-")
    # the profile's seed spread on some of its sizes stays the profile's; with other epochs it does not
    assert get_config("quick", sizes=(2500,)).layout.seeds_dir == quick.output_dir / "seeds"
    assert get_config("quick", sizes=(2500,), epochs=2).layout.seeds_dir != quick.output_dir / "seeds"
    mine = get_config("quick", results_dir="/tmp/mine", epochs=1)
    assert str(mine.output_dir) == "/tmp/mine" and str(mine.layout.stage1_root) == "/tmp/mine/stage1"


@pytest.mark.parametrize("field, value", [("fixed_C", 0.0), ("fixed_gamma", -0.1), ("fixed_C", "1"), ("fixed_gamma", True)])
def test_the_fixed_svms_hyperparameters_must_be_positive_numbers(field, value):
    from mia_repro.attacks.config import AttackConfig

    with pytest.raises(ConfigError, match=f"^attack.{field}: expected a positive number"):
        get_config("smoke", attack=AttackConfig(**{field: value}))
