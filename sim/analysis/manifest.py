"""The manifest of a results directory: its schema version, and (to come) its validator.

Every ``manifest.json`` written by ``run``, ``sweep`` and ``robust`` records
``"schema": SCHEMA_VERSION``.
"""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION"]

#: The version of the manifest's layout; readers refuse another.
SCHEMA_VERSION = 1
