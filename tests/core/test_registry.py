"""The attack registry: names declared above their classes with their parameters, the package's lists as
queries on it, and a user's attack registered, named, listed and removed the same way."""
import numpy as np
import pytest

from fakes import fake_stage1
from mia_repro.attacks import (ATTACKS, MORE_ATTACKS, ONLINE_ATTACKS, AttackerView, AttackInputError, LiRAOffline,
                               LiRAOnline, MembershipAttack, RegistryError, RMIAOffline, new_attack, register, registry,
                               spec_of, unregister)


class Margin(MembershipAttack):
    """A user's attack: the true-class logit, threshold ``cut``."""

    def __init__(self, cut: float = 0.0):
        self.cut = cut

    def fit(self, view):
        self.threshold_ = float(self.cut)
        return self

    def decision_function(self, view):
        return np.asarray(view.target_logits, np.float64)[np.arange(len(view)), view.true_class]


@pytest.fixture
def margin():
    """``margin`` and ``margin_high`` (cut 2) registered for one test, then removed."""
    register("margin", label="margin", paper="a test's attack")(
        register("margin_high", params={"cut": 2.0}, label="margin (cut 2)", paper="a test's attack")(Margin))
    yield
    for name in ("margin", "margin_high"):
        if name in registry.names():
            unregister(name)


def test_a_name_is_a_class_with_parameters_and_an_instance_answers_to_the_name_of_its_settings():
    glob = new_attack("lira_offline_global")
    assert type(glob) is LiRAOffline and glob.variance == "global" and glob.name == "lira_offline_global"
    assert LiRAOffline().name == LiRAOffline.name == "lira_offline"
    assert LiRAOffline(variance="auto").name == "lira_offline"  # other settings: the class's first name
    assert LiRAOnline(variance="global").label == "LiRA online (global var.)"
    tuned = new_attack("rmia_offline_tuned")
    assert type(tuned) is RMIAOffline and len(tuned.temperature_grid) > 1 and tuned.name == "rmia_offline_tuned"
    assert RMIAOffline(temperature_grid=tuned.temperature_grid, a=0.5).name == "rmia_offline_tuned"
    assert spec_of(glob).params == {"variance": "global"} and spec_of(LiRAOffline).name == "lira_offline"


def test_the_package_lists_are_queries_on_the_registry():
    assert set(ATTACKS) == set(registry.names("compare")) and set(ONLINE_ATTACKS) == set(registry.names("online"))
    assert not set(ATTACKS) & set(ONLINE_ATTACKS) and list(MORE_ATTACKS) == ["rmia_offline_tuned"]
    assert set(registry.names()) == set(ATTACKS) | set(ONLINE_ATTACKS) | set(MORE_ATTACKS)
    # every online attack needs IN references, no offline one does
    assert all(ONLINE_ATTACKS[n].needs_in_references for n in ONLINE_ATTACKS)
    assert not any(ATTACKS[n].needs_in_references or MORE_ATTACKS.get(n, ATTACKS[n]).needs_in_references
                   for n in ATTACKS)
    from mia_repro.experiment.stages.pool_attacks import CURVE_ATTACKS, POOL_ATTACKS
    from mia_repro.reporting.mitigation_plots import DP_ATTACKS

    assert POOL_ATTACKS == registry.names("pool") and CURVE_ATTACKS == registry.names("curve")
    assert DP_ATTACKS == registry.names("dp") and set(CURVE_ATTACKS) <= set(POOL_ATTACKS)
    # the pool's set lists the recommended variant of each family first: the order its positions give
    assert POOL_ATTACKS.index("lira_online_global") < POOL_ATTACKS.index("lira_online")
    assert POOL_ATTACKS.index("rmia_offline_tuned") < POOL_ATTACKS.index("rmia_offline")


def test_a_set_orders_by_position_then_by_registration(margin):
    register("z_first", label="z", paper="p", sets={"pool": -1})(type("ZFirst", (Margin,), {}))
    register("a_last", label="a", paper="p", sets=("pool",))(type("ALast", (Margin,), {}))
    try:
        pool = registry.names("pool")
        assert pool[0] == "z_first" and pool[-1] == "a_last"
        assert pool[1:-1] == tuple(n for n in pool if n not in ("z_first", "a_last"))
    finally:
        unregister("z_first")
        unregister("a_last")
    assert "z_first" not in registry.names("pool")


def test_a_users_attack_registers_runs_by_name_and_is_listed_until_removed(margin):
    assert new_attack("margin_high").cut == 2.0 and new_attack("margin_high").name == "margin_high"
    assert Margin(cut=2.0).name == "margin_high" and Margin(cut=1.0).name == "margin"
    assert {"margin", "margin_high"} <= set(MORE_ATTACKS) and "margin" not in ATTACKS  # no set: runs when named
    from mia_repro.evaluation.evaluate import run_attacks

    so, labels = fake_stage1(n=40, n_shadows=2, pool=300, population=40, seed=0)
    res = run_attacks(AttackerView.from_stage1(so, labels), so.target.member, ["margin_high", "loss_threshold"],
                      bootstrap=0)
    assert list(res.results) == ["margin_high", "loss_threshold"] and res["margin_high"].threshold == 2.0
    assert res["margin_high"].label == "margin (cut 2)"
    from mia_repro.reporting.plots import attack_label

    assert attack_label("margin_high") == "margin (cut 2)" and attack_label("not_registered") == "not_registered"
    unregister("margin_high")
    with pytest.raises(AttackInputError, match="unknown attack 'margin_high'"):
        new_attack("margin_high")


def test_registration_mistakes_are_one_named_error(margin):
    with pytest.raises(RegistryError, match="'margin' is already .*Margin; choose another name"):
        register("margin", label="m", paper="p")(type("Other", (Margin,), {}))
    register("margin", label="margin again", paper="p")(Margin)  # the same class again (a rerun cell) replaces it
    assert new_attack("margin").label == "margin again"
    with pytest.raises(RegistryError, match="a lower-case identifier"):
        register("Margin-2", label="m", paper="p")
    with pytest.raises(RegistryError, match=r"Margin\(\) takes no \['variance'\]"):
        register("margin_v", label="m", paper="p", params={"variance": "global"})(Margin)
    with pytest.raises(RegistryError, match="sets is a tuple among"):
        register("margin_s", label="m", paper="p", sets=("compares",))
    with pytest.raises(RegistryError, match="decorates a MembershipAttack subclass"):
        register("margin_f", label="m", paper="p")(lambda: None)
    with pytest.raises(RegistryError, match="'lira_offline' is one of the package's attacks"):
        unregister("lira_offline")
    with pytest.raises(RegistryError, match="in_set: one of"):
        registry.names("pools")


def test_the_subclasses_that_fixed_one_parameter_are_gone_with_a_message_naming_the_new_spelling():
    with pytest.raises(ImportError, match=r"LiRAOfflineGlobal is now LiRAOffline\(variance='global'\), registered as "
                                          r"'lira_offline_global'"):
        from mia_repro.attacks import LiRAOfflineGlobal  # noqa: F401
    with pytest.raises(ImportError, match="RMIAOnlineTuned is now RMIAOnline"):
        from mia_repro.attacks import RMIAOnlineTuned  # noqa: F401


def test_a_registered_offline_attack_can_be_named_in_the_config_and_the_cli_imports_its_module(tmp_path):
    from mia_repro.tools.cli import import_attack_modules
    from mia_repro.base.errors import ConfigError
    from mia_repro.experiment.profiles import get_config

    with pytest.raises(ConfigError, match="register it first"):
        get_config("smoke", attacks=("file_margin",))
    module = tmp_path / "my_attacks.py"
    module.write_text("import numpy as np\n"
                      "from mia_repro.attacks import MembershipAttack, register\n"
                      "@register('file_margin', label='file margin', paper='a file of a user')\n"
                      "class FileMargin(MembershipAttack):\n"
                      "    def fit(self, view):\n        self.threshold_ = 0.0\n        return self\n"
                      "    def decision_function(self, view):\n        return np.zeros(len(view))\n")
    import_attack_modules([str(module)])
    try:
        cfg = get_config("smoke", attacks=("loss_threshold", "file_margin"))
        assert cfg.compared_attacks == ("loss_threshold", "file_margin")
        with pytest.raises(ConfigError, match="expected distinct names among the registered offline"):
            get_config("smoke", attacks=("lira_online",))  # online: needs a pool, not the comparison's shadows
    finally:
        unregister("file_margin")
    with pytest.raises(ConfigError, match=r"^--attack-module no_such_module_here: ModuleNotFoundError"):
        import_attack_modules(["no_such_module_here"])
    with pytest.raises(ConfigError, match="--attack-module: no file"):
        import_attack_modules([str(tmp_path / "absent.py")])


def test_the_cli_names_an_attack_module_that_does_not_import_in_one_line(capsys):
    from mia_repro.tools.cli import main

    assert main(["compare", "--profile", "smoke", "--attack-module", "no_such_module_here"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --attack-module no_such_module_here: ModuleNotFoundError: No module named 'no_such_module_here'\n"
