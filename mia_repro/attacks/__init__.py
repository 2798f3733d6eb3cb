"""Membership inference attacks, one module each, behind one interface (:mod:`.base`).

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
(a reference pool, :mod:`mia_repro.reference_pool`; Shokri's shadows never are):

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
from mia_repro.attacks.base import (AttackData, AttackerView, AttackInputError, AttackNotFittedError, MembershipAttack, PopulationSimulation,
                   attack_dataset)
from mia_repro.attacks.calibrated_loss import CalibratedLoss
from mia_repro.attacks.label_only import AugmentationAttack, GapAttack
from mia_repro.attacks.lira import LiRAOffline, LiRAOfflineGlobal, LiRAOnline, LiRAOnlineGlobal
from mia_repro.attacks.metric import EntropyThreshold, GlobalLossThreshold, LossThreshold
from mia_repro.attacks.rmia import RMIAOffline, RMIAOfflineTuned, RMIAOnline, RMIAOnlineTuned
from mia_repro.attacks.shokri import PerClassSVMs, ShokriSVM, ShokriSVMFixed, check_disjoint, fit_class_attack, fit_per_class_svms, stratified_subsample
from mia_repro.attacks.threshold import ConfidenceThreshold, confidence_threshold, true_class_confidence

ATTACKS = {cls.name: cls for cls in (ShokriSVM, ShokriSVMFixed, ConfidenceThreshold, GlobalLossThreshold, LossThreshold,
                                      EntropyThreshold, CalibratedLoss,
                                      LiRAOffline, LiRAOfflineGlobal, RMIAOffline, GapAttack, AugmentationAttack)}
#: the online attacks (a reference pool only); :func:`new_attack` knows them too
ONLINE_ATTACKS = {cls.name: cls for cls in (LiRAOnline, LiRAOnlineGlobal, RMIAOnline, RMIAOnlineTuned)}
#: offline attacks outside :data:`ATTACKS` (the stages' default set); :func:`new_attack` knows them too
MORE_ATTACKS = {cls.name: cls for cls in (RMIAOfflineTuned,)}



def new_attack(name: str, cfg=None, seed: int = 0) -> MembershipAttack:
    """One unfitted instance of attack ``name`` of :data:`ATTACKS`, :data:`ONLINE_ATTACKS` or :data:`MORE_ATTACKS`; the SVM variants
    take ``cfg`` (:class:`~mia_repro.attacks.config.AttackConfig`; None: its defaults) and ``seed``."""
    known = {**ATTACKS, **ONLINE_ATTACKS, **MORE_ATTACKS}
    if name not in known:
        raise AttackInputError(f"unknown attack {name!r}; choose one of {', '.join(known)}")
    cls = known[name]
    return cls(cfg=cfg, seed=seed) if issubclass(cls, ShokriSVM) else cls()


__all__ = ["ATTACKS", "MORE_ATTACKS", "ONLINE_ATTACKS", "new_attack", "AttackData", "AttackerView", "AttackInputError", "AttackNotFittedError",
           "MembershipAttack", "PopulationSimulation", "attack_dataset", "PerClassSVMs", "check_disjoint",
           "confidence_threshold", "fit_class_attack", "fit_per_class_svms", "stratified_subsample",
           "true_class_confidence"] + [c.__name__ for c in (*ATTACKS.values(), *ONLINE_ATTACKS.values(), *MORE_ATTACKS.values())]
