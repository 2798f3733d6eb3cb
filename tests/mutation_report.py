"""Per-file score of the last `make mutation` run (mutmut 3's ``mutants/**/*.meta``), as a markdown table.

    python tests/mutation_report.py [--survivors]

A mutant is *killed* when the fast attack/metric tests fail on it (exit code 1), *survives* when they pass
(0); ``tests/mutation_equivalents.txt`` lists survivors judged equivalent (one per line: the mutant's name,
then why), counted apart.  Not a test module (pytest collects only ``test_*.py``).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("mia_repro/attacks/", "mia_repro/evaluation/metrics.py", "mia_repro/evaluation/roc.py",
           "mia_repro/privacy/audit.py", "mia_repro/privacy/one_run_gdp.py", "mia_repro/privacy/ceiling.py")
STATUS = {1: "killed", 0: "survived", 33: "no tests", 34: "skipped", 24: "timeout", 36: "timeout", None: "not run"}


def equivalents() -> dict[str, str]:
    path = ROOT / "tests" / "mutation_equivalents.txt"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition(" ")
            out[name] = why.strip()
    return out


def main(argv: list[str]) -> int:
    metas = sorted(p for p in (ROOT / "mutants").rglob("*.py.meta")
                   if any(str(p.relative_to(ROOT / "mutants")).startswith(t) for t in TARGETS))
    if not metas:
        print("no mutmut results under mutants/: run `make mutation` first")
        return 2
    eq = equivalents()
    print("| file | mutants | killed | survived | of them listed equivalent | other | killed % | killed or equivalent % |")
    print("|---|---|---|---|---|---|---|---|")
    survivors, alive_all = [], set()
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        status = Counter(STATUS.get(c, f"exit {c}") for c in codes.values())
        alive = [k for k, c in codes.items() if c == 0]
        alive_all.update(alive)
        listed = sum(k in eq for k in alive)
        survivors += [k for k in alive if k not in eq]
        n, killed = len(codes), status["killed"]
        other = n - killed - status["survived"]
        name = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
        print(f"| {name} | {n} | {killed} | {status['survived']} | {listed} | {other} | {100 * killed / max(n, 1):.1f} "
              f"| {100 * (killed + listed) / max(n, 1):.1f} |")
    stale = sorted(set(eq) - alive_all)
    print(f"\n{len(survivors)} survivors not listed as equivalent; {len(stale)} listed names no longer survive "
          f"(killed, or renumbered by a code change: update tests/mutation_equivalents.txt)")
    if "--survivors" in argv:
        print("\nsurvivors not listed as equivalent (`mutmut show <name>` shows the change):")
        print("\n".join(survivors))
        print("\nlisted but no longer surviving:")
        print("\n".join(stale))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
