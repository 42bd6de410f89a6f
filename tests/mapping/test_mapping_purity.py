"""The mapping stays pure: it imports models and errors only, and never reads the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import backmarket_shipstation.mapping as mapping

MAPPING_DIR = Path(mapping.__file__).parent
ALLOWED_SDK_MODULES = {
    "_convert",
    "_imei",  # pure: IMEI check digits, shared with the Back Market client
    "errors",
    "backmarket.models",
    "shipstation.models",
}
ALLOWED_THIRD_PARTY = {"attrs", "typing_extensions"}
FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "monotonic", "perf_counter", "open", "sleep"}


def _modules() -> list[Path]:
    return sorted(MAPPING_DIR.glob("*.py"))


def test_mapping_imports_models_and_errors_only() -> None:
    assert _modules()
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert node.module in ALLOWED_SDK_MODULES, f"{path.name} imports ..{node.module}"
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                root = (node.module or "").split(".")[0]
                assert root in ALLOWED_THIRD_PARTY or root in _stdlib(), f"{path.name}: {root}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    root = alias.name.split(".")[0]
                    assert root in ALLOWED_THIRD_PARTY or root in _stdlib(), f"{path.name}: {root}"


def test_mapping_never_reads_the_clock_or_files() -> None:
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}()"


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names) | {"__future__"}
