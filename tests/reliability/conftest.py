"""Makes ``reliability_support`` importable from the tests of this folder.

pytest runs with ``--import-mode=importlib``, which does not put test folders on ``sys.path``;
the helpers live in a module with a distinctive name so no other folder's helpers shadow them.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
