"""Import time of the package: ``import backmarket_shipstation``, its clients, each subpackage.

Each figure is the best of ``--runs`` fresh interpreters (``python -c "import ..."``, timed
inside the child with ``perf_counter`` around the import alone, so interpreter start-up is
not counted). Target: ``import backmarket_shipstation`` and the client import under 150 ms.

Bytecode: an installed package has its ``.pyc`` files (pip compiles them at install), so by
default the children read cached bytecode from a throw-away ``PYTHONPYCACHEPREFIX`` directory,
filled by one untimed warm-up run per statement, even where ``PYTHONDONTWRITEBYTECODE`` is
set (as in this repository's CI and shared machine: there every import of the working tree
compiles its source again, about 35 ms for the client import). ``--compile`` times that
instead: ``PYTHONDONTWRITEBYTECODE=1``, so a tree without ``__pycache__`` directories is
compiled on every import (the standard library and the dependencies keep their bytecode).

For the breakdown by module, run::

    .venv/bin/python -X importtime -c \
        "from backmarket_shipstation import BackMarketClient" 2> importtime.txt

    .venv/bin/python benchmarks/import_time.py [--runs 7] [--compile]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

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
TARGETS = {STATEMENTS[0]: 0.150, STATEMENTS[1]: 0.150}
_CHILD = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def import_seconds(statement: str, runs: int, env: dict[str, str], warm_up: bool) -> float:
    """Best of ``runs`` fresh interpreters (after one untimed run when ``warm_up``)."""
    command = [sys.executable, "-c", _CHILD.format(statement=statement)]
    best = float("inf")
    for run in range(runs + warm_up):
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
        if warm_up and run == 0:
            continue
        best = min(best, float(out))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--compile",
        action="store_true",
        help="no bytecode cache: every child compiles the package's source (cold checkout)",
    )
    options = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="import-time-pyc-") as pycache:
        if options.compile:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPYCACHEPREFIX", None)
            mode = "source compiled on every import (--compile)"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache
            mode = "cached bytecode, as installed"
        print(
            f"import time, best of {options.runs} fresh interpreters, {mode} "
            f"(Python {sys.version.split()[0]})"
        )
        for statement in STATEMENTS:
            seconds = import_seconds(statement, options.runs, env, warm_up=not options.compile)
            target = TARGETS.get(statement)
            note = f"  (target < {target * 1000:.0f} ms)" if target else ""
            print(f"  {statement:<72} {seconds * 1000:7.1f} ms{note}")


if __name__ == "__main__":
    main()
