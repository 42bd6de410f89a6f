"""The installed command, run as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from backmarket_shipstation import __version__


def _command() -> list[str]:
    """The console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "backmarket-shipstation"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "backmarket_shipstation.cli"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BACKMARKET_", "SHIPSTATION_"))
    }
    return subprocess.run(
        [*_command(), *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def test_console_script_version(tmp_path: Path) -> None:
    done = _run("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"backmarket-shipstation {__version__}"


def test_console_script_sync_sandbox(tmp_path: Path) -> None:
    done = _run("sync", "--sandbox", "--json", "--orders", "20", "--seed", "1", cwd=tmp_path)
    # One order is packed without its IMEI on purpose: reported, then sent once typed.
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["exit_code"] == 0
    assert result["left_without_identifiers"] == 1
    assert result["labels_bought"] == 11
    assert result["backship_marked_shipped"] == 1
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == [], "the sandbox keeps its state in memory"


def test_module_entry_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "backmarket_shipstation.cli",
            "sync",
            "--sandbox",
            "--orders",
            "5",
            "--forget-every",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env={
            k: v for k, v in os.environ.items() if not k.startswith(("BACKMARKET_", "SHIPSTATION_"))
        },
    )
    assert done.returncode == 0, done.stderr
    assert "[sandbox] imported" in done.stdout
