"""Membership inference attacks, one module each, behind one interface (:mod:`.base`), on the attacker's view
(:mod:`.view`) and its signals (:mod:`.signals`), with thresholds chosen on the attacker's data (:mod:`.thresholds`),
named in a registry (:mod:`.registry`) and held to one contract (:func:`check_attack`, :mod:`.checks`).

=====================  ==========================================================
``shokri_svm``         Shokri et al. 2017: per-class RBF SVMs on shadow outputs, C and gamma tuned by CV
``shokri_svm_fixed``   the same at fixed C and gamma (no search; scikit-learn's defaults)
``confidence_threshold``  baseline: one global threshold on log p_y
``loss_threshold_global``  Yeom et al. 2018: loss, one global threshold
``loss_threshold``     Song & Mittal 2021: loss, per-class thresholds
``mentropy_threshold`` Song & Mittal 2021: modified entropy, per-class thresholds
``calibrated_loss``    Watson et al. 2022: loss minus mean OUT-reference loss
``lira_offline``       Carlini et al. 2022: per-record Gaussian, one-sided test
``lira_offline_global``  the same with one global variance
``rmia_offline``       Zarifzadeh et al. 2024: likelihood ratio vs population
``label_only_gap``     Choquette-Choo et al. 2021: correct => member
``label_only_augment`` Choquette-Choo et al. 2021: correct answers on augmentations
=====================  ==========================================================

:data:`ONLINE_ATTACKS`, which need references trained with the target's records as well as without them
(a reference pool, :mod:`mia_repro.views.pool`; Shokri's shadows never are):

=====================  ==========================================================
``lira_online``        Carlini et al. 2022: per-record IN and OUT Gaussians, likelihood ratio
``lira_online_global`` the same with one global IN and one global OUT variance
``rmia_online``        Zarifzadeh et al. 2024: Pr(x) over IN and OUT references
``rmia_online_tuned``  the same with the signal's softmax temperature chosen on the simulation
=====================  ==========================================================

:data:`MORE_ATTACKS`, offline attacks that :func:`new_attack` and ``run_attacks`` know but the comparison and
mitigation stages do not run by default:

=====================  ==========================================================
``rmia_offline_tuned`` RMIA offline with the signal's softmax temperature chosen on the simulation
=====================  ==========================================================
"""
from mia_repro.attacks.view import AttackData, AttackerView, AttackInputError, PopulationSimulation, attack_dataset
from mia_repro.attacks.base import AttackNotFittedError, MembershipAttack
from mia_repro.attacks import registry
from mia_repro.attacks.registry import AttackSet, AttackSpec, RegistryError, register, spec, spec_of, unregister
# the order of these imports is the registration order: the order of the comparison's attacks
from mia_repro.attacks.svms import (
    PerClassSVMs, check_disjoint, fit_class_attack, fit_per_class_svms, stratified_subsample
)
from mia_repro.attacks.shokri import ShokriSVM, ShokriSVMFixed
from mia_repro.attacks.threshold import ConfidenceThreshold, confidence_threshold, true_class_confidence
from mia_repro.attacks.metric import EntropyThreshold, GlobalLossThreshold, LossThreshold
from mia_repro.attacks.calibrated_loss import CalibratedLoss
from mia_repro.attacks.lira import LiRAOffline, LiRAOnline
from mia_repro.attacks.rmia import RMIAOffline, RMIAOnline
from mia_repro.attacks.label_only import AugmentationAttack, GapAttack
from mia_repro.attacks.checks import AttackContractError, check_attack

registry.seal_package()

#: the attacks the comparison and mitigation stages run by default, ``{name: AttackSpec}`` (live: a name
#: registered in the ``"compare"`` set later is in it)
ATTACKS = AttackSet("compare")
#: the online attacks (a reference pool only); :func:`new_attack` knows them too
ONLINE_ATTACKS = AttackSet("online")
#: every other registered name (offline attacks no stage runs by default, a user's own); :func:`new_attack`
#: knows them too
MORE_ATTACKS = AttackSet(exclude=("compare", "online"))

#: the names of the subclasses that once fixed one parameter, and the registered name each is now
_FORMER = {"LiRAOfflineGlobal": "lira_offline_global", "LiRAOnlineGlobal": "lira_online_global",
           "RMIAOfflineTuned": "rmia_offline_tuned", "RMIAOnlineTuned": "rmia_online_tuned"}


def __getattr__(name: str):
    if name in _FORMER:
        s = spec(_FORMER[name])
        settings = ", ".join(f"{k}={v!r}" for k, v in s.params.items())
        raise ImportError(f"mia_repro.attacks.{name} is now {s.cls.__name__}({settings}), registered as "
                          f"{s.name!r}: new_attack({s.name!r}) or {s.cls.__name__}({settings})")
    raise AttributeError(f"module 'mia_repro.attacks' has no attribute {name!r}")


def new_attack(name: str, cfg=None, seed: int = 0) -> MembershipAttack:
    """One unfitted instance of the registered attack ``name`` (:func:`register`); the SVM variants take
    ``cfg`` (:class:`~mia_repro.attacks.config.AttackConfig`; None: its defaults) and ``seed``."""
    try:
        s = spec(name)
    except RegistryError as exc:
        raise AttackInputError(str(exc)) from None
    return s(cfg=cfg, seed=seed) if issubclass(s.cls, ShokriSVM) else s()


__all__ = ["ATTACKS", "MORE_ATTACKS", "ONLINE_ATTACKS", "new_attack", "register", "unregister", "spec", "spec_of",
           "check_attack", "AttackContractError",
           "AttackSet", "AttackSpec", "RegistryError", "AttackData", "AttackerView", "AttackInputError",
           "AttackNotFittedError", "MembershipAttack", "PopulationSimulation", "attack_dataset", "PerClassSVMs",
           "check_disjoint", "confidence_threshold", "fit_class_attack", "fit_per_class_svms", "stratified_subsample",
           "true_class_confidence", "ShokriSVM", "ShokriSVMFixed", "ConfidenceThreshold", "GlobalLossThreshold",
           "LossThreshold", "EntropyThreshold", "CalibratedLoss", "LiRAOffline", "LiRAOnline", "RMIAOffline",
           "RMIAOnline", "GapAttack", "AugmentationAttack"]
