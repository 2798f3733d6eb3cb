"""The experiment: its configuration (:mod:`.config` schema, :mod:`.profiles`, :mod:`.keys`), where it reads
and writes (:mod:`.layout`, :mod:`.store`, :mod:`.outputs` the per-model file), what it trains
(:mod:`.plan`, :mod:`.trained`) and its stages in order: :mod:`.stage1`, :mod:`.stage2`,
:mod:`.compare` (with :mod:`.svm_sensitivity`), :mod:`.mitigation`, :mod:`.seeds`; :mod:`.provenance` is
what every result says of how it was made."""
from mia_repro.experiment import profiles as _profiles  # noqa: F401,E402  fills config.PROFILES before any config is used
