"""The figures a benchmark writes into a document, between ``<!-- NAME -->`` markers.

A benchmark run with ``--write`` replaces the text between the markers with what it
measured; a test reads it back (:func:`read`) and checks it is what the stored figures
give, so no number in the docs is typed by hand.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType


def _pattern(name: str) -> str:
    return rf"<!-- {name} -->\n(.*?)\n<!-- /{name} -->"


def write(doc: Path, name: str, text: str) -> None:
    """Replace the block ``name`` of ``doc`` with ``text``."""
    block = f"<!-- {name} -->\n{text}\n<!-- /{name} -->"
    found = re.sub(
        rf"<!-- {name} -->.*?<!-- /{name} -->", lambda _: block, doc.read_text(), flags=re.S
    )
    doc.write_text(found)


def read(doc: Path, name: str) -> str | None:
    """The text of the block ``name`` of ``doc`` (None if it has none)."""
    found = re.search(_pattern(name), doc.read_text(), re.S)
    return found.group(1) if found else None


def load_benchmark(path: Path) -> ModuleType:
    """A benchmark script imported as a module (for its ``summary_text``)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
