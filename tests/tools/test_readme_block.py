"""The README's "Use it from your own notebook" block runs exactly as printed (real CIFAR-10 needed)."""
import re
import subprocess
import sys

import pytest

from mia_repro.base.paths import PROJECT_ROOT


def readme_block(which: int = 0) -> str:
    text = (PROJECT_ROOT / "README.md").read_text()
    section = text[text.index("## Use it from your own notebook"):text.index("## Reproduce the paper")]
    return re.findall(r"```python\n(.*?)```", section, re.S)[which]


def test_the_block_has_at_most_30_lines():
    assert len(readme_block().strip().splitlines()) <= 30


@pytest.mark.training
def test_the_readme_block_runs_as_printed_and_prints_a_table_and_draws_the_figure(real_data, tmp_path):
    out = subprocess.run([sys.executable, "-c", readme_block()], cwd=tmp_path, capture_output=True, text=True,
                         timeout=900, env={**__import__("os").environ, "MIA_REPRO_DATA": str(real_data)})
    assert out.returncode == 0, out.stderr[-3000:]
    for name in ("shokri_svm ", "shokri_svm_fixed", "lira_offline_global", "rmia_offline"):
        assert re.search(rf"^{name}\s.*\s0\.\d{{3}}\s", out.stdout, re.M), (name, out.stdout)
    assert out.stdout.startswith("AttackerView(target 'target': 800 records x 10 classes, 4 shadows")
    assert (tmp_path / "roc_own_model.png").stat().st_size > 20_000
    assert out.stderr.strip() == "", out.stderr[-2000:]  # a quiet console: no backend noise


@pytest.mark.training
def test_the_pool_block_runs_as_printed_and_prints_what_the_readme_shows(real_data, tmp_path):
    """The second block (a pool of one's own reference models, the committed quick pool standing in) prints
    exactly the output under it: it reads cached logits only, so the numbers are the same on any machine."""
    text = (PROJECT_ROOT / "README.md").read_text()
    section = text[text.index("## Use it from your own notebook"):text.index("## Reproduce the paper")]
    printed = re.findall(r"It printed \(from the committed caches[^\n]*\n\n```\n(.*?)```", section, re.S)[0]
    out = subprocess.run([sys.executable, "-c", readme_block(1)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=900, env={**__import__("os").environ, "MIA_REPRO_DATA": str(real_data)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == printed.strip()
    assert out.stderr.strip() == "", out.stderr[-2000:]
