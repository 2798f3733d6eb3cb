"""The experiment: its configuration (:mod:`.config` schema, :mod:`.profiles`, :mod:`.keys`), where it reads
and writes (:mod:`.layout`, :mod:`.store`, :mod:`.outputs` the per-model file), what it trains
(:mod:`.plan`, :mod:`.trained`) and its stages in order, in :mod:`.stages`;
:mod:`.provenance` is what every result says of how it was made."""
from mia_repro.experiment import profiles as _profiles  # noqa: F401,E402  fills config.PROFILES before any config is used
