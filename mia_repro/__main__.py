"""Command line: ``python -m mia_repro {stage1,stage2,mitigation,all} --profile NAME``."""
from mia_repro.tools.cli import main

raise SystemExit(main())
