"""benchmarks/docs_block.py, importable from the tests (benchmarks/ is not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "docs_block.py"
_spec = importlib.util.spec_from_file_location("docs_block", _PATH)
docs_block = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_block)
