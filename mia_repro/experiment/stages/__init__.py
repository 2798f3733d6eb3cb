"""The experiment's stages, in the order they run: :mod:`.stage1` (target and shadows trained, their outputs
kept), :mod:`.stage2` (Shokri's per-class SVMs), :mod:`.compare` (every attack on the same target, with
:mod:`.svm_sensitivity`), :mod:`.mitigation` (defenses, the unaware and the aware attacker), :mod:`.seeds` (the
seed-to-seed spread), :mod:`.pool` and :mod:`.pool_attacks` (the reference pool and the attacks on it) and
:mod:`.canary_audit` (DP-SGD's one-run audit)."""
