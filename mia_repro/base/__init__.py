"""The base layer, beneath everything: :mod:`.errors` (every error the package raises on purpose derives from
:class:`~mia_repro.base.errors.MiaReproError`), :mod:`.validation` (config value checks), :mod:`.paths`,
:mod:`.environment` (variables set for a while), :mod:`.cache` (atomic files and digests), :mod:`.progress`,
:mod:`.quiet` (Keras without backend noise), :mod:`.determinism` and :mod:`.moved` (old import paths)."""
