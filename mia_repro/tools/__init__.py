"""The commands, on top of everything: :mod:`.cli` (``python -m mia_repro STAGE``), :mod:`.reproduce` (the
staged notebooks via papermill), :mod:`.bench` (timings measured in one run) and :mod:`.migrate` (sealing
Stage I files that predate their digest)."""
