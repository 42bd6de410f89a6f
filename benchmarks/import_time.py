"""Import time of the package: ``import backmarket_shipstation`` and each subpackage.

Each figure is the best of ``--runs`` fresh interpreters (``python -c "import ..."``, timed
inside the child with ``perf_counter`` around the import alone, so interpreter start-up is
not counted). Target: ``import backmarket_shipstation`` under 150 ms. For the breakdown by
module, run::

    .venv/bin/python -X importtime -c "import backmarket_shipstation" 2> importtime.txt

    .venv/bin/python benchmarks/import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

MODULES = (
    "backmarket_shipstation",
    "backmarket_shipstation.backmarket",
    "backmarket_shipstation.shipstation",
    "backmarket_shipstation.mapping",
    "backmarket_shipstation.sync",
    "backmarket_shipstation.cli",
    "httpx",
    "cattrs",
)
_CHILD = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str, runs: int) -> float:
    """Best of ``runs`` fresh interpreters."""
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(module=module)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        best = min(best, float(out))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print(f"import time, best of {runs} fresh interpreters (Python {sys.version.split()[0]})")
    for module in MODULES:
        seconds = import_seconds(module, runs)
        target = "  (target < 150 ms)" if module == "backmarket_shipstation" else ""
        print(f"  {module:<40} {seconds * 1000:7.1f} ms{target}")


if __name__ == "__main__":
    main()
