"""The test suite's throw-away servers (PostgreSQL, Redis), for the benchmarks that need one.

They live under tests/ beside conftest.py, which is not a package (pytest imports it with
``--import-mode=importlib``), so a benchmark loads the module from its file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parents[1] / "tests"


def load_test_server(name: str) -> ModuleType:
    """``tests/<name>.py`` (``postgres_server``, ``redis_server``), loaded once."""
    module_name = f"_bmss_{name}"
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, TESTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
