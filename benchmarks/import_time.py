"""Import time of the package: ``import backmarket_shipstation``, its clients, each subpackage.

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

STATEMENTS = (
    "import backmarket_shipstation",
    "from backmarket_shipstation import BackMarketClient, ShipStationClient",
    "import backmarket_shipstation.backmarket",
    "import backmarket_shipstation.shipstation",
    "import backmarket_shipstation.mapping",
    "import backmarket_shipstation.sync",
    "import backmarket_shipstation.cli",
    "import httpx",
    "import cattrs",
)
_CHILD = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def import_seconds(statement: str, runs: int) -> float:
    """Best of ``runs`` fresh interpreters."""
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(statement=statement)],
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
    for statement in STATEMENTS:
        seconds = import_seconds(statement, runs)
        target = "  (target < 150 ms)" if statement == STATEMENTS[0] else ""
        print(f"  {statement:<72} {seconds * 1000:7.1f} ms{target}")


if __name__ == "__main__":
    main()
